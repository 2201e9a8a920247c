import type { Redis } from 'ioredis'
import type { DurableSink, SinkItem } from './types.ts'
import { CLOSE_GRACE_MS, STALL_WARN_MS, closeClient, redisClient, unlessAborted, warnIfSlow } from './redis-client.ts'
import { ConnectorClosedError } from '../errors.ts'
import { checkSinkOptions } from './redis-options.ts'
import { encodeItems } from './sink-encoding.ts'
import type { RedisStreamSinkOptions } from './redis-options.ts'
import { RefusalLog } from '../transport/mtls/refusal-log.ts'
import { resolveLogger } from '../logger.ts'

/**
 * Appends a batch in one round trip, each item at most once: an item whose id
 * key exists is skipped, so an entry replayed after a crash or a redelivery
 * writes nothing the second time. The check, the append and the id key are one
 * script, atomic in Redis; the key is set after the append, since Redis does
 * not undo a script that fails halfway: an append that fails (a key of the
 * wrong type) leaves its id unwritten, to be written by the retry, not skipped.
 * KEYS: the stream, the id-key prefix; ARGV: ttl, max length (0: none), then id
 * and value pairs.
 */
const APPEND_ONCE = `
local ttl = tonumber(ARGV[1])
local maxLen = tonumber(ARGV[2])
local written = 0
for i = 3, #ARGV, 2 do
  local key = KEYS[2] .. ARGV[i]
  if redis.call('EXISTS', key) == 0 then
    if maxLen > 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxLen, '*', 'id', ARGV[i], 'v', ARGV[i + 1])
    else
      redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'v', ARGV[i + 1])
    end
    redis.call('SET', key, '1', 'EX', ttl)
    written = written + 1
  end
end
return written
`

type AppendOnce = Redis & { appendOnce: (stream: string, prefix: string, ...args: Array<string | number | Uint8Array>) => Promise<number> }

/**
 * A Redis stream the pipeline appends to, idempotently by item id: each
 * entry carries fields `id` and `v` (the encoded value), and an id written
 * once (within `dedupeTtlS`) is never written again. Exactly once by id with
 * a durable source; the ids (under their source's scope, `<in-stream>/<group>/<entry id>[.k]`) are
 * remembered in keys `<stream>:written:<id>`. An item whose value `encode` cannot take
 * is refused alone (write resolves with it, NotSerializableError); the rest are written.
 */
export function redisStreamSink<T = unknown> (options: RedisStreamSinkOptions): DurableSink<T> & { readonly written: number, readonly skipped: number } {
  checkSinkOptions(options)
  const { url, stream } = options
  const ttl = options.dedupeTtlS ?? 86_400
  const maxLen = options.maxLen ?? 0
  const stallWarnMs = options.stallWarnMs ?? STALL_WARN_MS
  const encode = options.encode ?? ((value: unknown) => JSON.stringify(value))
  const prefix = `${stream}:written:`
  const warnings = new RefusalLog(resolveLogger(options.log).child({ stream }))
  const redis = redisClient(url, 'sink', warnings, { reconnectMaxMs: options.reconnectMaxMs }) as AppendOnce
  redis.defineCommand('appendOnce', { numberOfKeys: 2, lua: APPEND_ONCE })
  let written = 0
  let skipped = 0
  /** Aborted by close(): a write still waiting for Redis then fails (it would never be answered). */
  const closing = new AbortController()
  return {
    get written () { return written },
    get skipped () { return skipped },
    async write (items: Array<SinkItem<T>>) {
      if (items.length === 0) return
      if (closing.signal.aborted) throw new ConnectorClosedError('redisStreamSink')
      // a value it cannot encode fails that item alone (returned), never the batch: the others are written
      const { encoded, refused } = encodeItems(items, encode)
      if (encoded.length === 0) return refused
      const args: Array<string | number | Uint8Array> = [ttl, maxLen]
      for (const item of encoded) args.push(item.id, item.text)
      // Redis away or stalled: the write waits for it, however long (the run with it), until close()
      const reply = await unlessAborted(warnIfSlow(redis.appendOnce(stream, prefix, ...args), stallWarnMs, (waitedMs) => {
        warnings.warn(stream, 'stall', { waitedMs: Math.round(waitedMs), items: encoded.length }, `Redis has not answered a write for ${Math.round(waitedMs / 1000)} s (paused, cut off, away or overloaded); still waiting`)
      }, closing.signal), closing.signal)
      if (reply === undefined) throw new ConnectorClosedError('redisStreamSink')
      const count = Number(reply)
      written += count
      skipped += encoded.length - count
      return refused.length > 0 ? refused : undefined
    },
    async close () {
      // a write still unanswered then (Redis stalled or away) fails: the run is over, its entries stay pending
      await closeClient(redis, performance.now() + CLOSE_GRACE_MS, new ConnectorClosedError('redisStreamSink'))
      closing.abort()
    }
  }
}
