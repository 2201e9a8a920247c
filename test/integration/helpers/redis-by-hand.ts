import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import type { Logger } from '../../../src/logger.ts'
import { redisStreamSink, redisStreamSource } from '../../../src/connectors/index.ts'
import type { RedisStreamSourceOptions } from '../../../src/connectors/index.ts'

export interface LogLine { level: number, msg: string, connection?: string, [field: string]: unknown }

/** A pino logger whose lines land, parsed, in `lines`. */
export function collectingLog (lines: LogLine[]): Logger {
  return pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as LogLine) } })
}

export interface ByHand {
  /** Settles when the reading ends (rejects with what failed it). */
  done: Promise<void>
  /** Entries written and acknowledged so far. */
  count: () => number
  close: () => Promise<void>
}

/**
 * Reads `stream` into `out` (each entry written, then acknowledged) until `signal` aborts, as a run drives its
 * connectors: the source and sink of a plain run, group `g`, consumer `c` unless `source` says otherwise.
 */
export function consumeByHand (url: string, stream: string, out: string, signal: AbortSignal, log: Logger, source: Partial<RedisStreamSourceOptions> = {}): ByHand {
  const reconnectMaxMs = source.reconnectMaxMs
  const reader = redisStreamSource({ url, stream, group: 'g', consumer: 'c', claimIdleMs: 1000, blockMs: 200, stallWarnMs: 500, log, ...source })
  const sink = redisStreamSink({ url, stream: out, stallWarnMs: 500, log, ...(reconnectMaxMs == null ? {} : { reconnectMaxMs }) })
  let count = 0
  const done = (async () => {
    for await (const entry of reader.entries(signal)) {
      await sleep(5)
      await sink.write([{ id: reader.scope + entry.id, value: entry.value }])
      reader.ack(entry.id)
      count++
    }
  })()
  done.catch(() => {})
  return { done, count: () => count, close: async () => { await Promise.all([reader.close(), sink.close()]) } }
}
