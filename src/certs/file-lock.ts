import { randomBytes } from 'node:crypto'
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { FileLockedError } from '../errors.ts'
import { processAlive } from '../process-alive.ts'

export interface FileLockOptions {
  signal?: AbortSignal
  /** Give up with FileLockedError after waiting this long (default 5 s). */
  timeoutMs?: number
  /** A lock older than this was left by a holder that died or hangs, and is taken over (default 30 s; a holder keeps it for milliseconds). */
  staleMs?: number
}

const DEFAULT_TIMEOUT_MS = 5000
const DEFAULT_STALE_MS = 30_000
const MAX_BACKOFF_MS = 100

interface Holder { pid: number, host: string, nonce: string }

/**
 * Runs `fn` holding an exclusive lock shared with other processes: the file
 * `lockPath`, created with O_EXCL and removed when `fn` settles. For the
 * read-modify-write of a CA directory's files (tokens, issued certificates),
 * which the issuing node and `grid certs` commands change at the same time.
 * A lock whose holder is gone (a dead pid on this host, or older than
 * `staleMs`) is taken over.
 */
export async function withFileLock<T> (lockPath: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const nonce = await acquire(lockPath, options)
  try {
    return await fn()
  } finally {
    await release(lockPath, nonce)
  }
}

async function acquire (path: string, options: FileLockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS
  const holder: Holder = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex') }
  const started = performance.now()
  let backoff = 2
  for (;;) {
    options.signal?.throwIfAborted()
    try {
      const handle = await open(path, 'wx', 0o600)
      try {
        await handle.writeFile(JSON.stringify(holder))
      } finally {
        await handle.close()
      }
      return holder.nonce
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const seen = await takeOverIfStale(path, staleMs)
    if (seen === 'taken-over') continue
    const waited = performance.now() - started
    if (waited >= timeoutMs) throw new FileLockedError(path, Math.round(waited), seen)
    // jittered, so waiters that collided do not collide again
    await sleep(Math.min(backoff * (0.5 + Math.random()), timeoutMs - waited), undefined, { signal: options.signal })
      .catch((err: unknown) => { throw options.signal?.reason ?? err })
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
  }
}

/** Removes the lock only if it is still ours: one taken over as stale belongs to someone else now. */
async function release (path: string, nonce: string): Promise<void> {
  const current = parseHolder(await readFile(path, 'utf8').catch(() => ''))
  if (current?.nonce === nonce) await rm(path, { force: true })
}

/** 'taken-over' when the lock was stale and is gone now; else who holds it (for the error). */
async function takeOverIfStale (path: string, staleMs: number): Promise<string> {
  let info, text
  try {
    info = await stat(path)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'taken-over'
    throw err
  }
  // empty: its holder is between creating and writing it, or died there (then only its age tells)
  const holder = parseHolder(text)
  const dead = holder != null && holder.host === hostname() && !processAlive(holder.pid)
  if (!dead && Date.now() - info.mtimeMs < staleMs) return holder == null ? 'another process' : `pid ${holder.pid} on ${holder.host}`
  // moved aside rather than removed by name: a waiter that judged the same lock stale may have
  // taken it over and locked anew in between, and that fresh lock must not be lost
  const aside = `${path}.${randomBytes(4).toString('hex')}.stale`
  try {
    await rename(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'taken-over'
    throw err
  }
  const moved = await stat(aside)
  if (moved.ino !== info.ino || moved.dev !== info.dev) await link(aside, path).catch(() => {})
  await rm(aside, { force: true })
  return 'taken-over'
}

function parseHolder (text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>
    return typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.nonce === 'string' ? value as Holder : undefined
  } catch {
    return undefined
  }
}
