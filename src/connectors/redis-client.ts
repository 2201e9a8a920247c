import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { settledWithin } from '../lifecycle/settled-within.ts'
import type { RefusalLog } from '../transport/mtls/refusal-log.ts'

/**
 * How long a connector's close waits for the replies it is owed (the last acknowledgements, QUIT)
 * before it drops its connections: a stalled Redis (a paused process, a partition) answers nothing,
 * and a stop of the run, and of the node, would wait on it for as long as it lasts.
 */
export const CLOSE_GRACE_MS = 2000

/**
 * An ioredis client whose connection errors go to `warnings` (once a minute per connection and kind
 * of error). Without an 'error' listener ioredis prints each one on stderr, once per reconnection
 * attempt of each connection, for as long as Redis is away. Commands meanwhile wait for the
 * reconnection (or fail, per `options`).
 */
export function redisClient (url: string, connection: string, warnings: RefusalLog, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { protocol: 2, ...options })
  redis.on('error', (err: Error & { code?: string }) => {
    warnings.warn(`redis ${connection}`, err.code ?? err.name, { err, connection }, `the Redis connection (${connection}) failed; reconnecting`)
  })
  return redis
}

/** Default `stallWarnMs` of the Redis connectors. */
export const STALL_WARN_MS = 10_000

/**
 * `work`, with `warn()` called if it has not settled after `afterMs`: a stalled Redis (a paused process,
 * a partition) raises no error, the kernel still answers for it, and its replies just never come.
 */
export async function warnIfSlow<R> (work: Promise<R>, afterMs: number, warn: () => void): Promise<R> {
  const timer = setTimeout(warn, afterMs)
  try {
    return await work
  } finally {
    clearTimeout(timer)
  }
}

/** Quits, waiting for the replies owed until `deadline` (a performance.now() time) at most, then drops the connection. */
export async function closeClient (redis: Redis, deadline: number): Promise<void> {
  await settledBy(redis.quit().catch(() => {}), deadline)
  redis.disconnect()
}

/** Resolves once `work` settles or `deadline` (a performance.now() time) passes, whichever comes first. */
export async function settledBy (work: Promise<unknown>, deadline: number): Promise<void> {
  await settledWithin(work, deadline - performance.now())
}
