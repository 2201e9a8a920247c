import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DurableSource, SourceEntry } from './types.ts'
import { autoClaimReply, decodeEntry, readGroupReply } from './redis-replies.ts'
import type { StreamEntry } from './redis-replies.ts'
import { CLOSE_GRACE_MS, STALL_WARN_MS, closeClient, dropClient, redisClient, settledBy, unlessAborted, warnIfSlow } from './redis-client.ts'
import { ConnectorClosedError } from '../errors.ts'
import { FORGET_IDLE_FACTOR, NEW_GROUP_ID, ensureGroup, groupLost, idleConsumerSweep, regroupDelayMs } from './redis-group.ts'
import { checkSourceOptions } from './redis-options.ts'
import { MAX_TIMEOUT_MS } from '../checks/values.ts'
import type { RedisStreamSourceOptions } from './redis-options.ts'
import { RefusalLog } from '../transport/mtls/refusal-log.ts'
import { resolveLogger } from '../logger.ts'

const DEFAULTS = { batch: 128, blockMs: 1000, claimIdleMs: 30_000, maxValueBytes: 1 << 20 }

/**
 * A Redis stream read through a consumer group: this consumer's own pending
 * entries first (a restart under the same name), then entries other consumers
 * left pending (XAUTOCLAIM), then new ones. An entry stays pending in Redis
 * until the pipeline acknowledges it, which it does only once the sink has
 * resolved for everything the entry produced; acknowledgements go out in
 * batches (one XACK per turn of the event loop). Holds no state per entry
 * beyond the ones inside the pipeline.
 */
export function redisStreamSource<T = unknown> (options: RedisStreamSourceOptions): DurableSource<T> & { readonly acked: number } {
  checkSourceOptions(options)
  const { url, stream, group } = options
  const consumer = options.consumer ?? `${hostname()}-${process.pid}`
  const batch = options.batch ?? DEFAULTS.batch
  const blockMs = options.blockMs ?? DEFAULTS.blockMs
  const claimIdleMs = options.claimIdleMs ?? DEFAULTS.claimIdleMs
  const maxValueBytes = options.maxValueBytes ?? DEFAULTS.maxValueBytes
  const stallWarnMs = options.stallWarnMs ?? STALL_WARN_MS
  const decode = options.decode ?? ((fields: string[]) => decodeEntry(fields, maxValueBytes))
  const log = resolveLogger(options.log).child({ stream, group, consumer })
  const warnings = new RefusalLog(log)
  // a blocking read holds its connection: acknowledgements and claims get their own
  const reconnectMaxMs = options.reconnectMaxMs
  const reader = redisClient(url, 'reader', warnings, { lazyConnect: true, reconnectMaxMs })
  const writer = redisClient(url, 'writer', warnings, { lazyConnect: true, reconnectMaxMs })
  // consumers that went away (a pod restarted under a new name) would stay in the group for ever
  const forgetIdleConsumers = idleConsumerSweep(reader, stream, group, consumer, FORGET_IDLE_FACTOR * Math.max(claimIdleMs, blockMs))
  /** Entries handed to the pipeline whose XACK has not been answered: a claim must not hand one out twice. */
  const inside = new Set<string>()
  let toAck: string[] = []
  let flushing: Promise<void> = Promise.resolve()
  let flushScheduled = false
  let acked = 0
  let closed = false
  /** Aborted by close(): a command still waiting for Redis is abandoned. */
  const closing = new AbortController()

  const flush = (): void => {
    flushScheduled = false
    if (toAck.length === 0) return
    const ids = toAck
    toAck = []
    flushing = flushing.then(async () => {
      try {
        // Redis away: waits for it (a close abandons it); a reply owed after the close is dropped with the connection
        const reply = await unlessAborted(writer.xack(stream, group, ...ids), closing.signal)
        if (reply !== undefined) acked += ids.length
      } catch (err) {
        // the group is gone, and their entries with it: the reader creates it again, and they come again as new
        if (groupLost(err)) warnings.warn(stream, 'xack group lost', { err, entries: ids.length }, 'acknowledgements answered NOGROUP (Redis lost the consumer group) are dropped; their entries are delivered again')
        // they stay pending: read again by this consumer's next start, or claimed (by this one too) once idle
        else warnings.warn(stream, 'xack', { err, entries: ids.length }, 'acknowledging entries failed; they stay pending')
      } finally {
        for (const id of ids) inside.delete(id)
      }
    })
  }

  const ack = (id: string): void => {
    // after close the connection is gone: the entry stays pending, to be read again
    if (closed) return
    // it stays `inside` until its XACK is answered: a claim (another connection) meanwhile still finds it pending
    toAck.push(id)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
  }

  const stalled = (waitedMs: number): void => {
    warnings.warn(stream, 'stall', { waitedMs: Math.round(waitedMs) }, `Redis has not answered a read for ${Math.round(waitedMs / 1000)} s (paused, cut off, away or overloaded); still waiting`)
  }

  /** Creates the group Redis lost again, and says how much of the stream its new group will hand out again. */
  const regroup = async (err: unknown): Promise<void> => {
    const created = await ensureGroup(reader, stream, group)
    const entries = await reader.xlen(stream)
    warnings.warn(stream, 'group lost', { err, startId: NEW_GROUP_ID, created, entries }, `the consumer group is gone from Redis (restarted without its data, flushed, the stream deleted or the group destroyed): ${created ? `created again at ${NEW_GROUP_ID}` : 'created again (by another consumer)'}, its pending list lost with it, so the ${entries} entries in the stream are delivered again (a Redis sink skips the ids it wrote)`)
  }

  /**
   * The command's reply, or undefined once `signal` aborts. A group Redis lost is created again (where a
   * new group starts) and the command sent again: a read or a claim goes on from there.
   */
  async function inGroup<R> (send: () => Promise<R>, signal: AbortSignal): Promise<R | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await unlessAborted(send(), signal)
      } catch (err) {
        if (!groupLost(err)) throw err
        // lost again as soon as created: back off rather than spin against Redis (an abort ends the pause)
        await sleep(regroupDelayMs(attempt), undefined, { signal }).catch(() => {})
        if (signal.aborted) return undefined
        await unlessAborted(warnIfSlow(regroup(err), stallWarnMs, stalled, signal), signal)
      }
    }
  }

  /** Removes consumers long idle with nothing pending (after a complete claim pass: whatever they held is ours now). */
  async function forgetIdle (signal: AbortSignal): Promise<void> {
    try {
      const removed = await inGroup(async () => await warnIfSlow(forgetIdleConsumers(), stallWarnMs, stalled, signal), signal)
      if (removed != null && removed.length > 0) log.info({ removed: removed.length, consumers: removed.slice(0, 10) }, 'removed consumers idle with nothing pending from the group')
    } catch (err) {
      // the group works the same with them in it: tried again after the next claim pass
      warnings.warn(stream, 'forget consumers', { err }, 'removing idle consumers from the group failed')
    }
  }

  /** The entries worth handing out: deleted ones and undecodable ones are acknowledged and skipped. */
  function* usable (raw: StreamEntry[]): Generator<SourceEntry<T>> {
    for (const { id, fields } of raw) {
      if (inside.has(id)) continue
      if (fields == null) { ack(id); continue }
      let value: unknown
      try {
        value = decode(fields)
      } catch (err) {
        warnings.warn(stream, 'decode', { err, entry: id }, 'an entry could not be decoded: acknowledged and skipped')
        ack(id)
        continue
      }
      inside.add(id)
      yield { id, value: value as T }
    }
  }

  /** Claims what others left idle; returns true when it walked the whole pending list. */
  async function* claim (signal: AbortSignal): AsyncGenerator<SourceEntry<T>, boolean> {
    let cursor = '0-0'
    // bounded: XAUTOCLAIM walks the pending list once, COUNT at a time, and returns 0-0 at its end
    do {
      // an entry inside when the claim was sent is this run's, even if its XACK is answered before the reply is
      // read (nothing enters `inside` meanwhile: only this generator adds, and it waits here)
      const before = new Set(inside)
      const raw = await inGroup(async () => await warnIfSlow(reader.xautoclaim(stream, group, consumer, claimIdleMs, cursor, 'COUNT', batch), stallWarnMs, stalled, signal), signal)
      if (raw === undefined) return false
      const { next, claimed, vanished } = autoClaimReply(raw)
      if (vanished > 0) log.debug({ vanished }, 'XAUTOCLAIM returned deleted entries without their ids (Redis 6.2): skipped')
      // sorted out now, not as each is pulled: one inside now may have its XACK answered before its turn
      yield * usable(claimed.filter(e => !before.has(e.id)))
      cursor = next
    } while (cursor !== '0-0')
    return true
  }

  async function* entries (reading: AbortSignal): AsyncGenerator<SourceEntry<T>> {
    // a close ends the reading too: a read then waiting for Redis (away) is abandoned, not failed
    const signal = AbortSignal.any([reading, closing.signal])
    // Redis away at the start (or lost during it) is waited for like any outage, with stall warnings: the
    // connections open at their first command (an explicit connect() failed the reading at once with
    // "Connection is closed."); a close meanwhile ends the reading quietly (its commands are dropped)
    if (await unlessAborted(warnIfSlow(ensureGroup(reader, stream, group), stallWarnMs, stalled, signal), signal) === undefined) return
    // 1. what this consumer read before and never acknowledged (its cursor walks the pending list)
    for (let cursor = '0'; ;) {
      const raw = await inGroup(async () => await warnIfSlow(reader.xreadgroup('GROUP', group, consumer, 'COUNT', batch, 'STREAMS', stream, cursor), stallWarnMs, stalled, signal), signal)
      if (raw === undefined) return
      const mine = readGroupReply(raw)
      if (mine.length === 0) break
      yield * usable(mine)
      cursor = mine.at(-1)!.id
    }
    // 2. what others left pending too long, then new entries (claims again every claimIdleMs)
    let claimedAt = -Infinity
    while (!signal.aborted) {
      if (performance.now() - claimedAt >= claimIdleMs) {
        if (yield * claim(signal)) await forgetIdle(signal)
        claimedAt = performance.now()
      }
      const read = async (): Promise<unknown> => await warnIfSlow(reader.xreadgroup('GROUP', group, consumer, 'COUNT', batch, 'BLOCK', blockMs, 'STREAMS', stream, '>'), Math.min(blockMs + stallWarnMs, MAX_TIMEOUT_MS), stalled, signal)
      const raw = await inGroup(read, signal)
      if (raw === undefined) return
      const fresh = readGroupReply(raw)
      if (fresh.length === 0 && options.endWhenEmpty === true) return
      yield * usable(fresh)
    }
  }

  return {
    // the stream and the group: two deployments reading one stream through two groups into one sink write both
    scope: `${encodeURIComponent(stream)}/${encodeURIComponent(group)}/`,
    entries,
    ack,
    get acked () { return acked },
    async close () {
      if (closed) return
      closed = true
      flush()
      // acknowledgements Redis has not answered by then stay pending: read again at this consumer's next start, or claimed
      const deadline = performance.now() + CLOSE_GRACE_MS
      await settledBy(flushing, deadline)
      closing.abort()
      const gone = new ConnectorClosedError('redisStreamSource')
      dropClient(reader, gone)
      await closeClient(writer, deadline, gone)
    }
  }
}
