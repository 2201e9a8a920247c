import { Redis } from 'ioredis'
import { settledWithin } from '../lifecycle/settled-within.ts'
import type { RefusalLog } from '../transport/mtls/refusal-log.ts'

/**
 * How long a connector's close waits for the replies it is owed (the last acknowledgements, QUIT)
 * before it drops its connections: a stalled Redis (a paused process, a partition) answers nothing,
 * and a stop of the run, and of the node, would wait on it for as long as it lasts.
 */
export const CLOSE_GRACE_MS = 2000

/** Default `reconnectMaxMs`: the longest pause between two reconnection attempts while Redis is away (ioredis's own). */
export const RECONNECT_MAX_MS = 5000

export interface RedisClientOptions {
  /** Connect at the first command (or `connect()`), not at once. */
  lazyConnect?: boolean
  /** Reconnection attempts back off 50, 100, 200 ms … up to this (plus up to 200 ms of jitter). */
  reconnectMaxMs?: number
}

/**
 * An ioredis client whose connection errors go to `warnings` (once a minute per connection and kind
 * of error). Without an 'error' listener ioredis prints each one on stderr, once per reconnection
 * attempt of each connection, for as long as Redis is away. Commands meanwhile wait for the
 * reconnection, however long it takes: ioredis's default fails them after 20 attempts (about 70 s at
 * its 5 s backoff), which failed a run's sink write (and with it a plain run) over an outage it rides
 * out otherwise. The connector's close bounds the wait instead (`CLOSE_GRACE_MS`, `unlessAborted`).
 */
export function redisClient (url: string, connection: string, warnings: RefusalLog, options: RedisClientOptions = {}): Redis {
  const reconnectMaxMs = options.reconnectMaxMs ?? RECONNECT_MAX_MS
  const redis = new Redis(url, {
    protocol: 2,
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(2 ** Math.min(attempt - 1, 20) * 50, reconnectMaxMs) + Math.floor(Math.random() * 200)
  })
  // a Redis never reached is waited for like an outage (started before it), but may be a wrong URL: said so
  let reached = false
  redis.once('ready', () => { reached = true })
  redis.on('error', (err: Error & { code?: string }) => {
    const never = reached ? '' : ` and has not been made since the start (is ${redactedUrl(url)} right, and Redis up?)`
    warnings.warn(`redis ${connection}`, err.code ?? err.name, { err, connection, reached }, `the Redis connection (${connection}) failed${never}; reconnecting`)
  })
  return redis
}

/** `url` without its password, for a log line. */
function redactedUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(an unparsable URL)'
  }
}

/** Default `stallWarnMs` of the Redis connectors. */
export const STALL_WARN_MS = 10_000

/**
 * `work`, with `warn(waitedMs)` called every `everyMs` until it settles or `signal` aborts (the connector's
 * close): a stalled Redis (a paused process, a partition) raises no error, the kernel still answers for it,
 * and its replies just never come; a Redis that is away keeps the command waiting for as long as the outage
 * lasts. (The warnings are rate-limited.) The timer is unref'd: a warning never keeps a process alive.
 */
export async function warnIfSlow<R> (work: Promise<R>, everyMs: number, warn: (waitedMs: number) => void, signal: AbortSignal): Promise<R> {
  const started = performance.now()
  const timer = setInterval(() => { warn(performance.now() - started) }, everyMs)
  timer.unref()
  const stop = (): void => { clearInterval(timer) }
  signal.addEventListener('abort', stop, { once: true })
  if (signal.aborted) stop()
  try {
    return await work
  } finally {
    stop()
    signal.removeEventListener('abort', stop)
  }
}

/**
 * Resolves with the command's reply, or undefined once `signal` aborts: the reply is then abandoned. The
 * connector's close aborts before it drops its connections (`dropClient`), so a command it fails ends as abandoned.
 */
export async function unlessAborted<R> (command: Promise<R>, signal: AbortSignal): Promise<R | undefined> {
  if (signal.aborted) {
    // its rejection (the connection dropped) must not go unhandled
    command.catch(() => {})
    return undefined
  }
  let onAbort = (): void => {}
  const aborted = new Promise<undefined>(resolve => { onAbort = () => { resolve(undefined) }; signal.addEventListener('abort', onAbort, { once: true }) })
  try {
    return await Promise.race([command, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Quits, waiting for the replies owed until `deadline` (a performance.now() time) at most, then drops the
 * connection (`dropClient`): the commands still waiting fail with `error`.
 */
export async function closeClient (redis: Redis, deadline: number, error: Error): Promise<void> {
  // not connected (Redis away): a QUIT would only wait in the offline queue until the deadline
  if (redis.status === 'ready') await settledBy(redis.quit().catch(() => {}), deadline)
  dropClient(redis, error)
}

/**
 * Drops the connection, and fails with `error` the commands still waiting for a reply or for Redis. Redis away
 * (status `reconnecting`), ioredis's disconnect() only cancels the next attempt: its socket is closed already,
 * so no 'close' comes to fail what it queued meanwhile, which then waited for ever (and a stall warning's timer
 * with it, keeping a plain run's process alive). flushQueue is what ioredis's own close runs.
 */
export function dropClient (redis: Redis, error: Error): void {
  redis.disconnect()
  const queues = redis as unknown as { flushQueue?: (error: Error) => void }
  queues.flushQueue?.(error)
}

/** Resolves once `work` settles or `deadline` (a performance.now() time) passes, whichever comes first. */
export async function settledBy (work: Promise<unknown>, deadline: number): Promise<void> {
  await settledWithin(work, deadline - performance.now())
}
