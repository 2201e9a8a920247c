import type { Libp2p } from '@libp2p/interface'
import * as v from 'valibot'
import type { AddonHost } from './host.ts'
import type { Logger } from '../logger.ts'
import { JsonStream, MAX_MESSAGE_BYTES } from '../transport/json-stream.ts'
import { smallRequestsBudget } from '../transport/read-budget.ts'
import { addonRequest } from './request.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { Addon, AddonContext, AddonInfo, AddonInstance } from './addon.ts'
import type { RoleCheck } from '../trust/credentials.ts'
import { guarded } from '../trust/guard.ts'
import { isRole } from '../trust/roles.ts'
import type { Role } from '../trust/roles.ts'
import { AddonDependencyError, AddonExistsError, AddonStartError, ConfigError, NodeStoppedError, RateLimitedError } from '../errors.ts'
import { Rejections, streamFailure } from '../transport/rejections.ts'
import { shown } from '../checks/check.ts'
import type { RejectedCount } from '../transport/rejections.ts'

interface Running {
  addon: Addon<never>
  ctx: AddonContext
  instance?: AddonInstance
  cleanup: Array<() => unknown>
  abort: AbortController
  /** Its stop, once begun: stopAll and destroy never run it twice. */
  stopped?: Promise<void>
}

/** An add-on request with its answer: the handler's own work included. */
const ADDON_DEADLINE_MS = 60_000

/** The add-ons in use on one node, in start order; `stopAll` stops them in reverse. */
export class AddonRegistry {
  private readonly host: AddonHost
  private readonly libp2p: Libp2p
  private readonly roles: Pick<RoleCheck, 'authorize'>
  private readonly log: Logger
  private readonly running: Running[] = []
  private readonly starting = new Map<string, Running>()
  /** Starts under way, and late instances of starts given up on being stopped: a stop waits for them. */
  private readonly unsettled = new Set<Promise<unknown>>()
  /** Bad requests on the add-ons' protocols: counted, logged once a minute per peer. */
  private readonly rejections: Rejections
  /**
   * Every add-on protocol's requests being read, together: a peer may hold 32 streams of each on each of 8
   * connections (a client certificate those of the schedules protocol), each read in full at once until the deadline.
   */
  private readonly reading = smallRequestsBudget(MAX_MESSAGE_BYTES)
  private closed = false

  constructor (host: AddonHost, libp2p: Libp2p, log: Logger, roles: Pick<RoleCheck, 'authorize'>) {
    this.host = host
    this.roles = roles
    this.libp2p = libp2p
    this.log = log
    this.rejections = new Rejections(log)
  }

  /** Bad requests dropped on the add-ons' protocols, by protocol and reason (`gridd_rejected_messages_total` rows). */
  rejected (): RejectedCount[] {
    return this.rejections.counters()
  }

  names (): string[] {
    return this.running.map(r => r.addon.name)
  }

  /** The add-on `name` if it is in use (started, not stopping). */
  info (name: string): AddonInfo | undefined {
    const running = this.running.find(r => r.addon.name === name)
    return running == null ? undefined : infoOf(running)
  }

  /** `signal` aborting while the add-on starts rejects with its reason and leaves the node as a throwing start does. */
  async use<O> (addon: Addon<O>, options: O, { signal }: { signal?: AbortSignal } = {}): Promise<AddonInfo> {
    if (typeof addon?.name !== 'string' || typeof addon.start !== 'function') throw new ConfigError('addon', 'not an add-on: make it with defineAddon({ name, start })')
    if (this.closed) throw new NodeStoppedError()
    if (this.starting.has(addon.name) || this.running.some(r => r.addon.name === addon.name)) throw new AddonExistsError(addon.name)
    const missing = (addon.dependencies ?? []).filter(d => !this.running.some(r => r.addon.name === d))
    if (missing.length > 0) throw new AddonDependencyError(addon.name, missing)
    signal?.throwIfAborted()
    const running = this.context(addon)
    this.starting.set(addon.name, running)
    await this.tracked(this.startListed(addon, running, options, signal))
    return infoOf(running)
  }

  /** Starts `running` (listed as starting) and lists it as running; a node stopping meanwhile stops it again. */
  private async startListed<O> (addon: Addon<O>, running: Running, options: O, signal: AbortSignal | undefined): Promise<void> {
    let instance: unknown
    try {
      instance = await (signal == null ? addon.start(running.ctx, options) : this.startUnlessAborted(running, options, signal))
    } catch (err) {
      // nothing of a failed add-on stays behind: its handlers and listeners go with it
      await this.teardown(running)
      if (signal?.aborted === true) throw signal.reason
      throw new AddonStartError(addon.name, err)
    } finally {
      this.starting.delete(addon.name)
    }
    running.instance = asInstance(instance)
    // the node began stopping while this one started: stopAll did not see it, so it stops itself
    if (this.closed) {
      await this.stopOne(running)
      throw new NodeStoppedError()
    }
    this.running.push(running)
    running.ctx.log.info('add-on started')
  }

  async stopAll (): Promise<void> {
    this.closed = true
    // add-ons still starting see their signal aborted and stop themselves when start returns: waited for
    // (within the node's stop deadline), so a port an add-on opened is closed when the node's stop resolves
    for (const running of this.starting.values()) running.abort.abort()
    // again until none is left: a use aborted meanwhile adds the stop of its start's late instance
    while (this.unsettled.size > 0) await Promise.allSettled([...this.unsettled])
    // each stays listed until it has stopped, so a destroy meanwhile still tears it down
    for (let last = this.running.at(-1); last != null; last = this.running.at(-1)) {
      await this.stopOne(last)
      this.forget(last)
    }
  }

  /**
   * Immediate: every add-on's signal aborted and its handlers and listeners removed; then the `stop` of each
   * one not stopping yet runs (its HTTP server's port, say, is only closed there), waited on together, not in turn.
   */
  async destroy (): Promise<void> {
    this.closed = true
    for (const running of this.starting.values()) running.abort.abort()
    const stops: Array<Promise<void>> = []
    for (let last = this.running.at(-1); last != null; last = this.running.at(-1)) {
      this.forget(last)
      await this.teardown(last)
      // one whose stop is already under way (the one stopAll is stuck on) is not waited on again
      if (last.stopped == null) stops.push(this.stopOne(last))
    }
    await Promise.all(stops)
  }

  /**
   * The add-on's start, given up when `signal` aborts: the add-on's own signal is aborted with the same reason
   * (a start that heeds it ends at once), and what a start that ignored it returns later is stopped then.
   * The caller's signal is let go as the start settles: after that it has no effect.
   */
  private async startUnlessAborted (running: Running, options: unknown, signal: AbortSignal): Promise<unknown> {
    // async: a start that throws at once rejects like one that rejects
    const started = (async () => await running.addon.start(running.ctx, options as never))()
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => {
        running.abort.abort(signal.reason)
        reject(signal.reason)
        void this.tracked(started.then(async instance => {
          running.instance = asInstance(instance)
          await this.stopOne(running)
        }, () => {}))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      const settle = <T>(finish: (value: T) => void) => (value: T): void => { signal.removeEventListener('abort', onAbort); finish(value) }
      started.then(settle(resolve), settle(reject))
    })
  }

  /** `work`, waited for by stopAll until it settles. */
  private async tracked (work: Promise<void>): Promise<void> {
    this.unsettled.add(work)
    try {
      await work
    } finally {
      this.unsettled.delete(work)
    }
  }

  private forget (running: Running): void {
    const at = this.running.indexOf(running)
    if (at >= 0) this.running.splice(at, 1)
  }

  private async stopOne (running: Running): Promise<void> {
    running.stopped ??= this.stopInstance(running)
    await running.stopped
  }

  private async stopInstance (running: Running): Promise<void> {
    // each on its own: an instance stop that throws does not skip what the add-on's stop releases
    for (const stop of [() => running.instance?.stop?.(), () => running.addon.stop?.(running.ctx)]) {
      try {
        await stop()
      } catch (err) {
        running.ctx.log.warn({ err }, 'add-on failed to stop cleanly')
      }
    }
    await this.teardown(running)
    running.ctx.log.info('add-on stopped')
  }

  private context (addon: Addon<never>): Running {
    const abort = new AbortController()
    /** The add-on's node listeners still on: removed at stop, or by its own `off` (then forgotten here too). */
    const listening: Array<{ event: string, listener: unknown, off: () => void }> = []
    const cleanup: Array<() => unknown> = [() => { for (const entry of listening.splice(0)) entry.off() }]
    const log = this.log.child({ addon: addon.name })
    const host = this.host
    const libp2p = this.libp2p
    const rejections = this.rejections
    const ctx: AddonContext = {
      get peerId () { return host.peerId },
      get addresses () { return host.addresses },
      members: () => host.members(),
      self: () => host.self(),
      connectedPeers: () => host.connectedPeers(),
      rejectedMessages: () => host.rejectedMessages(),
      refusedConnections: () => host.refusedConnections(),
      certificateNotAfter: () => host.certificateNotAfter(),
      certificateRevoked: serial => host.certificateRevoked(serial),
      moduleCacheBytes: () => host.moduleCacheBytes(),
      ownCertificateRevoked: () => host.ownCertificateRevoked(),
      pipelines: () => host.pipelines(),
      get tasks () { return host.tasks },
      tasksOverview: () => host.tasksOverview(),
      channel: name => host.channel(name),
      log,
      signal: abort.signal,
      on: (event, listener) => {
        // after stop nothing new may be registered: no one would remove it
        if (abort.signal.aborted) throw new NodeStoppedError()
        host.on(event, listener)
        listening.push({ event, listener, off: () => { host.off(event, listener) } })
      },
      off: (event, listener) => {
        host.off(event, listener)
        // forgotten here too: an add-on listening only while a request of its own is open would otherwise
        // grow the list (each listener kept alive with what it holds) until it stops
        const at = listening.findLastIndex(entry => entry.event === event && entry.listener === listener)
        if (at >= 0) listening.splice(at, 1)
      },
      handle: async (protocol, handler, schema, options = {}) => {
        if (typeof protocol !== 'string' || !protocol.startsWith('/')) throw new ConfigError('protocol', `must start with "/", got ${JSON.stringify(protocol)}`)
        const roles = checkRoles(options.roles ?? ['member'])
        if (typeof handler !== 'function') throw new ConfigError('handler', `must be a function (request, from) => reply, got ${shown(handler)}`)
        if (abort.signal.aborted) throw new NodeStoppedError()
        // libp2p's own refusal is an untyped error naming no add-on
        if (libp2p.getProtocols().includes(protocol)) throw new ConfigError('protocol', `${protocol} is handled on this node already`)
        await libp2p.handle(protocol, guarded(this.roles, protocol, roles, async (stream, connection) => {
          const peer = connection.remotePeer.toString()
          const json = new JsonStream(stream, { budget: this.reading.of(peer) })
          try {
            let reply
            try {
              const request = await json.readLast(schema ?? v.unknown(), { signal: AbortSignal.timeout(10_000) })
              try {
                reply = { ok: true, value: await handler(request, peer) }
              } catch (err) {
                reply = { ok: false, error: toWireError(err) }
              }
            } catch (err) {
              if (!(err instanceof RateLimitedError)) throw err
              // refused from its length, its body dropped as it comes: retryable
              this.reading.refused(rejections, protocol, peer, 'an add-on request', { addon: addon.name })
              reply = { ok: false, error: toWireError(err) }
            }
            await json.write(reply)
            await json.close()
          } catch (err) {
            rejections.reject(protocol, streamFailure(err), connection.remotePeer.toString(), 'dropped a malformed add-on request', String(err), { err, addon: addon.name })
            stream.abort(err as Error)
          }
        }, { deadlineMs: ADDON_DEADLINE_MS }))
        const unhandle = async (): Promise<void> => { await libp2p.unhandle(protocol) }
        // stopped while registering: teardown has already run its cleanups
        if (abort.signal.aborted) { await unhandle(); throw new NodeStoppedError() }
        cleanup.push(unhandle)
      },
      request: async (target, protocol, body, options = {}) => await addonRequest(libp2p, target, protocol, body, abort.signal, options.signal)
    }
    return { addon, ctx, cleanup, abort }
  }

  private async teardown (running: Running): Promise<void> {
    running.abort.abort()
    // emptied as it runs: destroy then a late stop tear down once, not twice
    for (const undo of running.cleanup.splice(0).reverse()) {
      try { await undo() } catch {}
    }
  }
}

/** What the app learns of a running add-on: a `url` its start returned (a port 0 add-on is found by it), if it is a string. */
function infoOf (running: Running): AddonInfo {
  const url = running.instance?.url
  return typeof url === 'string' ? { name: running.addon.name, url } : { name: running.addon.name }
}

/** What `start` returned, if it is something to stop. */
function asInstance (value: unknown): AddonInstance | undefined {
  return value != null && typeof value === 'object' ? value as AddonInstance : undefined
}

function checkRoles (roles: readonly Role[]): readonly Role[] {
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every(r => typeof r === 'string' && isRole(r))) {
    throw new ConfigError('roles', `must be a non-empty list of agent, member, client, admin; got ${JSON.stringify(roles)}`)
  }
  return roles
}
