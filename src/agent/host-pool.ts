import type { ChildProcess } from 'node:child_process'

/** A worker host forked ahead of need: Node started and the host loaded, no stage yet. */
export interface PooledHost {
  id: string
  child: ChildProcess
  pid: number
  /** The heap limit it was started with (0: none); a spawn takes only a host of its own shape. */
  memoryMb: number
  /** The stage it runs, for its output's log lines (a pre-started host learns it when a spawn takes it). */
  stage?: string
  /** It said it is loaded (the pool's own record: a host that dies before that is not replaced at once). */
  hosted?: boolean
}

/** Forks one idle worker host of `memoryMb`'s shape. */
export type HostForker = (memoryMb: number) => PooledHost

/** After a take, refilling waits this long: the spawns of one decision come together and get the CPU first. */
export const REFILL_DELAY_MS = 250
/** A host that never says it is loaded is not waited on longer than this before the next is forked. */
const LOADED_TIMEOUT_MS = 10_000

/**
 * The agent's pre-started worker hosts. A spawn that finds one of its shape
 * skips Node's start and the host's own loading (tens of ms, far more when a
 * burst forks several at once on a small machine) and only imports its stage
 * module. The pool refills one host at a time, each once the one before has
 * loaded, starting `REFILL_DELAY_MS` after the last take, so refilling never
 * competes with a burst of spawns for the CPU; a host that dies before it loads stops the refill until
 * the next take (the next would die the same way). Idle hosts hold no capacity
 * (no stage, no items); they run with every rule a worker runs with, since
 * the spawner forks them the same way.
 */
export class HostPool {
  private readonly size: number
  private readonly fork: HostForker
  private readonly forkFailed: (err: unknown) => void
  private readonly idle: PooledHost[] = []
  /** The shape the next refill forks: that of the last spawn. */
  private shape = 0
  /** The last two shapes spawns asked for, the latest first: idle hosts of these are kept. */
  private recentShapes = [0]
  private timer?: NodeJS.Timeout
  private filling = false
  private stopped = true

  /** `forkFailed` hears a fork that threw (no process, file handles or memory left): the pool waits for the next take. */
  constructor (size: number, fork: HostForker, forkFailed: (err: unknown) => void) {
    this.size = size
    this.fork = fork
    this.forkFailed = forkFailed
  }

  /** Hosts idle now. */
  get ready (): number {
    return this.idle.length
  }

  start (): void {
    this.stopped = false
    this.refillSoon(0)
  }

  /** An idle host of `memoryMb`'s shape, or undefined (fork one). Future refills take this shape. */
  take (memoryMb: number): PooledHost | undefined {
    if (this.size <= 0) return undefined
    this.shape = memoryMb
    this.recentShapes = [memoryMb, ...this.recentShapes.filter(s => s !== memoryMb)].slice(0, 2)
    const index = this.idle.findIndex(h => h.memoryMb === memoryMb && h.child.exitCode == null && h.child.connected)
    const host = index < 0 ? undefined : this.idle.splice(index, 1)[0]
    this.refillSoon(REFILL_DELAY_MS)
    return host
  }

  /** Kills the idle hosts (they were forked under rules that changed) and forks new ones. */
  renew (): void {
    this.killIdle()
    this.refillSoon(0)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.killIdle()
  }

  private evict (host: PooledHost): void {
    this.idle.splice(this.idle.indexOf(host), 1)
    host.child.kill('SIGKILL')
  }

  private killIdle (): void {
    for (const host of this.idle.splice(0)) host.child.kill('SIGKILL')
  }

  private refillSoon (delayMs: number): void {
    if (this.stopped || this.size <= 0) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.timer = undefined; void this.refill() }, delayMs)
    this.timer.unref()
  }

  private async refill (): Promise<void> {
    if (this.filling) return
    this.filling = true
    try {
      // hosts of a shape no recent spawn asked for would idle for nothing; the two shapes asked for last are
      // kept (two stages of different heap limits on one agent take turns: each refill killed the other's)
      for (const stale of this.idle.filter(h => !this.recentShapes.includes(h.memoryMb))) this.evict(stale)
      // the shape asked for now comes first: with the pool full and none of it idle, the oldest host of the
      // other shape makes room
      const other = this.idle.find(h => h.memoryMb !== this.shape)
      if (other != null && this.idle.length >= this.size && !this.idle.some(h => h.memoryMb === this.shape)) this.evict(other)
      // a take meanwhile reschedules the refill: stop here and let it run then, after its delay
      while (!this.stopped && this.timer == null && this.idle.length < this.size) {
        const host = this.fork(this.shape)
        this.idle.push(host)
        host.child.once('exit', () => {
          const at = this.idle.indexOf(host)
          if (at < 0) return
          this.idle.splice(at, 1)
          // an idle host killed from outside is replaced like a taken one; one that died before it loaded
          // (a bad NODE_OPTIONS, a host the worker user cannot read) would die again: not before the next take
          if (host.hosted === true) this.refillSoon(REFILL_DELAY_MS)
        })
        await loaded(host)
        if (host.hosted !== true && !this.idle.includes(host)) return
      }
    } catch (err) {
      // a fork that fails now is tried again at the next take
      this.forkFailed(err)
    } finally {
      this.filling = false
    }
  }
}

/** Resolves once the host says it is loaded (then `hosted` is set), or exits, or takes too long. */
async function loaded (host: PooledHost): Promise<void> {
  const { child } = host
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', done)
      resolve()
    }
    const onMessage = (message: { type?: string }): void => {
      if (message.type !== 'hosted') return
      host.hosted = true
      done()
    }
    const timer = setTimeout(done, LOADED_TIMEOUT_MS)
    child.on('message', onMessage)
    child.once('exit', done)
  })
}
