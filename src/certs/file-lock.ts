import { randomBytes } from 'node:crypto'
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { FileLockedError, FileLockLostError } from '../errors.ts'
import { processAlive } from '../process-alive.ts'
import { ownProcessStart, processStartTime } from '../process-start.ts'

export interface FileLockOptions {
  signal?: AbortSignal
  /** Give up with FileLockedError after waiting this long (default 5 s). */
  timeoutMs?: number
  /**
   * A lock this old whose holder cannot be checked from here (on another host sharing the
   * directory, or no /proc to tell its process apart, or an empty lock file) is taken over as
   * left by a holder that died or hangs (default 30 s; a holder keeps it for milliseconds). A
   * holder known to run on this host keeps its lock however long: taken over, it would still
   * write what it read before, over the changes made meanwhile.
   */
  staleMs?: number
}

/** Given to the function run under the lock. */
export interface HeldFileLock {
  /** Throws FileLockLostError when the lock was taken over from this holder (judged stale): call it just before writing. */
  assertHeld: () => Promise<void>
}

const DEFAULT_TIMEOUT_MS = 5000
const DEFAULT_STALE_MS = 30_000
const MAX_BACKOFF_MS = 100

/** The lock file's content. `space` and `start` (ProcessStart, where /proc has them) tell the holder from a later process given its pid. */
interface Holder { pid: number, host: string, nonce: string, space?: string, start?: string }

/** Who holds a lock a waiter cannot take over, for FileLockedError. */
interface Waiting { holder?: Holder, running: boolean }

/**
 * Runs `fn` holding an exclusive lock shared with other processes: the file
 * `lockPath`, created with O_EXCL and removed when `fn` settles. For the
 * read-modify-write of a CA directory's files (tokens, issued certificates),
 * which the issuing node and `grid certs` commands change at the same time.
 * A lock whose holder is gone (a dead pid on this host, or one reused by a
 * later process) is taken over at once; one whose holder cannot be checked,
 * once older than `staleMs`.
 */
export async function withFileLock<T> (lockPath: string, fn: (lock: HeldFileLock) => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const nonce = await acquire(lockPath, options)
  try {
    return await fn({ assertHeld: async () => { await assertHeld(lockPath, nonce) } })
  } finally {
    await release(lockPath, nonce)
  }
}

async function acquire (path: string, options: FileLockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS
  const own = await ownProcessStart()
  const holder: Holder = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex'), ...own }
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
    if (waited >= timeoutMs) throw new FileLockedError(path, Math.round(waited), describe(seen.holder), advice(seen, staleMs))
    // jittered, so waiters that collided do not collide again
    await sleep(Math.min(backoff * (0.5 + Math.random()), timeoutMs - waited), undefined, { signal: options.signal })
      .catch((err: unknown) => { throw options.signal?.reason ?? err })
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
  }
}

/**
 * Defence in depth for a holder taken over by age (one that could not be checked): its write is
 * refused rather than made over the newer holder's. A window remains: a takeover between this read
 * and the caller's rename goes unseen (closing it needs check-and-rename as one step, which files
 * alone cannot give); it shrinks the window from the whole hold to that step.
 */
async function assertHeld (path: string, nonce: string): Promise<void> {
  const current = parseHolder(await readFile(path, 'utf8').catch(() => ''))
  if (current?.nonce !== nonce) throw new FileLockLostError(path, describe(current))
}

/** Removes the lock only if it is still ours: one taken over as stale belongs to someone else now. */
async function release (path: string, nonce: string): Promise<void> {
  const current = parseHolder(await readFile(path, 'utf8').catch(() => ''))
  if (current?.nonce === nonce) await rm(path, { force: true })
}

/** 'taken-over' when the lock's holder was gone (or it was stale) and the lock is gone now; else who holds it (for the error). */
async function takeOverIfStale (path: string, staleMs: number): Promise<'taken-over' | Waiting> {
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
  const state = holder == null ? 'unknown' : await holderState(holder)
  if (state === 'running') return { holder, running: true }
  if (state === 'unknown' && Date.now() - info.mtimeMs < staleMs) return { holder, running: false }
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

/**
 * Whether the lock's holder still runs: 'exited' (its pid is gone, or now another process's) and
 * 'running' when told by its pid and start time, on this host in this pid namespace; 'unknown'
 * otherwise (another host, no /proc, a holder that recorded no start time), left to the lock's age.
 */
async function holderState (holder: Holder): Promise<'exited' | 'running' | 'unknown'> {
  if (holder.host !== hostname()) return 'unknown'
  const own = await ownProcessStart()
  // its pid names a process of another boot or pid namespace: nothing here tells
  if (holder.space != null && own != null && holder.space !== own.space) return 'unknown'
  if (!processAlive(holder.pid)) return 'exited'
  if (holder.start == null || own == null) return 'unknown'
  const start = await processStartTime(holder.pid)
  if (start === undefined) return 'unknown'
  // no /proc entry: exited since kill(0) said alive, or alive and hidden from us (hidepid): ask again
  if (start === 'missing') return processAlive(holder.pid) ? 'unknown' : 'exited'
  // another start time: the holder exited and a later process was given its pid
  return start === holder.start ? 'running' : 'exited'
}

function describe (holder: Holder | undefined): string {
  return holder == null ? 'another process' : `pid ${holder.pid} on ${holder.host}`
}

/** What a user can do about a lock they gave up waiting for. */
function advice ({ holder, running }: Waiting, staleMs: number): string {
  if (running && holder != null) {
    return 'that process is still running, and a running holder\'s lock is never taken over; a holder needs it for milliseconds, ' +
      `so one holding it for seconds likely hangs: if it was stopped (Ctrl-Z, a debugger) resume it (\`kill -CONT ${holder.pid}\`), else end it (\`kill ${holder.pid}\`); then retry`
  }
  const age = staleMs % 1000 === 0 ? `${staleMs / 1000} s` : `${staleMs} ms`
  return `its holder cannot be checked from here, so the lock is taken over once it is ${age} old (its holder died or hangs): retry then`
}

function parseHolder (text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>
    return Number.isSafeInteger(value.pid) && (value.pid ?? 0) > 0 && typeof value.host === 'string' && typeof value.nonce === 'string' &&
      (value.space === undefined || typeof value.space === 'string') && (value.start === undefined || typeof value.start === 'string')
      ? value as Holder
      : undefined
  } catch {
    return undefined
  }
}
