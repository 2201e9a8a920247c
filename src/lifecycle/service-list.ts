import type { Logger } from '../logger.ts'
import type { Service } from './service.ts'
import { settledWithin } from './settled-within.ts'
import { untilAborted } from './until-aborted.ts'

export interface ServiceListInit {
  log: Logger
  /** One deadline for every part's graceful stop together; then what is left is destroyed. */
  stopTimeoutMs: number
  /** How long the forced phase may take before the list gives up waiting on it. Default 1000 ms. */
  destroyGraceMs?: number
}

const DEFAULT_DESTROY_GRACE_MS = 1000

/**
 * Runs a node's parts as one ordered list: `start` in order; a part that
 * throws stops everything already started, in reverse, and the error is
 * rethrown. A start whose `signal` aborts does the same at once, mid-part
 * too (the part under way is given the signal; one that cannot give up on it
 * is stopped once its start settles), and throws the signal's reason. `stop` stops in reverse under ONE deadline, then
 * destroys the parts whose stop did not finish (or threw) and logs which were
 * forced. Both are safe to call twice; `stop` before or during `start` waits for it.
 */
export class ServiceList {
  private readonly services: readonly Service[]
  private readonly log: Logger
  private readonly stopTimeoutMs: number
  private readonly destroyGraceMs: number
  private readonly started: Service[] = []
  private starting?: Promise<void>
  private stopping?: Promise<void>

  constructor (services: readonly Service[], init: ServiceListInit) {
    this.services = services
    this.log = init.log
    this.stopTimeoutMs = init.stopTimeoutMs
    this.destroyGraceMs = init.destroyGraceMs ?? DEFAULT_DESTROY_GRACE_MS
  }

  /** Only the first call's `signal` counts: a second call waits on the same start. */
  async start (options: { signal?: AbortSignal } = {}): Promise<void> {
    this.starting ??= this.startAll(options.signal)
    await this.starting
  }

  async stop (): Promise<void> {
    this.stopping ??= this.stopAfterStart()
    await this.stopping
  }

  /** Names of the parts started and not yet stopped, in start order. */
  running (): string[] {
    return this.started.map(s => s.name)
  }

  private async startAll (signal?: AbortSignal): Promise<void> {
    for (const service of this.services) {
      if (this.stopping != null) return
      // aborted before this part (while the one before started, say): nothing more starts, what did is stopped
      if (signal?.aborted === true) await this.abandon(signal.reason, service.name, true)
      // a sync throw is a rejection too: every part's start is one promise to wait on
      const starting = (async () => { await service.start?.({ signal }) })()
      // given up on, it may still fail later: seen here, not as an unhandled rejection
      starting.catch(() => {})
      try {
        // a part that cannot give up on the signal itself (libp2p's start) is not waited for once it aborts
        await untilAborted(starting, signal)
      } catch (err) {
        // one that gave up on the signal (the add-ons, the tasks' journal) threw its reason: the start was aborted, it did not fail
        const aborted = signal?.aborted === true
        // the part may hold half of what it opened: it is stopped too, once its start has settled (a stop
        // racing its start would leave what the start opens after it); destroy, past the deadline, does not wait
        this.started.push(aborted ? stoppedAfter(service, starting, this.log) : service)
        await this.abandon(aborted ? signal.reason : err, service.name, aborted)
      }
      this.started.push(service)
    }
    if (signal?.aborted === true && this.stopping == null) await this.abandon(signal.reason, undefined, true)
  }

  /** Stops what started, in reverse, and throws `reason`. */
  private async abandon (reason: unknown, service: string | undefined, aborted: boolean): Promise<never> {
    if (aborted) this.log.info({ service }, 'start aborted; stopping what started')
    else this.log.error({ err: reason, service }, 'a service failed to start; stopping what started')
    // a stop() already waiting on this start does the stopping itself
    if (this.stopping == null) {
      this.stopping = this.stopStarted()
      await this.stopping
    }
    throw reason
  }

  private async stopAfterStart (): Promise<void> {
    await this.starting?.catch(() => {})
    await this.stopStarted()
  }

  private async stopStarted (): Promise<void> {
    const order = [...this.started].reverse()
    const stopped = new Set<Service>()
    const failed: Service[] = []
    let overdue = false
    const graceful = (async () => {
      for (const service of order) {
        if (overdue) return
        try {
          await service.stop?.()
          stopped.add(service)
        } catch (err) {
          this.log.warn({ err, service: service.name }, 'a service failed to stop cleanly')
          failed.push(service)
        }
      }
    })()
    const inTime = await settledWithin(graceful, this.stopTimeoutMs)
    overdue = !inTime
    const forced = order.filter(s => !stopped.has(s))
    this.started.length = 0
    if (forced.length === 0) return
    if (overdue) this.log.warn({ timeoutMs: this.stopTimeoutMs, forced: forced.map(s => s.name) }, 'graceful stop timed out; destroying what was left')
    else this.log.warn({ forced: failed.map(s => s.name) }, 'destroying services whose stop failed')
    const destroyed = settledWithin((async () => {
      for (const service of forced) {
        try {
          await service.destroy?.()
        } catch (err) {
          this.log.warn({ err, service: service.name }, 'a service failed to destroy')
        }
      }
    })(), this.destroyGraceMs)
    if (!await destroyed) this.log.warn({ graceMs: this.destroyGraceMs }, 'destroying services outlasted its grace; giving up waiting')
  }
}

/**
 * `service`, whose stop first waits for `starting` (its start, given up on) to settle. Destroyed past the
 * stop's deadline while that start still runs, it is destroyed again once the start settles: what the start
 * opens after the first destroy (a listener) would otherwise stay open. A start that fails once given up
 * on is logged, not dropped.
 */
function stoppedAfter (service: Service, starting: Promise<void>, log: Logger): Service {
  let startSettled = false
  const settled = starting.then(() => {}, (err: unknown) => { log.warn({ err, service: service.name }, 'a service given up on by an aborted start failed to start') })
    .finally(() => { startSettled = true })
  const destroy = service.destroy == null
    ? undefined
    : async () => {
      // again once the start settles only if it still runs now: a settled one has nothing more to open
      if (!startSettled) void settled.then(async () => { await service.destroy?.() }).catch((err: unknown) => { log.warn({ err, service: service.name }, 'a service failed to destroy') })
      await service.destroy?.()
    }
  return { ...service, stop: async () => { await settled; await service.stop?.() }, destroy }
}
