import type { Role } from '../trust/roles.ts'
import type { Logger } from '../logger.ts'
import type * as v from 'valibot'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../errors.ts'
import { checkKnownKeys } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import type { AddonHost } from './host.ts'

/**
 * What an add-on gets: the node's narrow host interface (peer id, members,
 * self, pipelines, tasks, channels, events), scoped to the add-on, plus its own
 * logger, stop signal and protocols (Fastify-style: no subclassing, no
 * monkey-patching, no reach into the node's internals).
 */
export interface AddonContext extends AddonHost {
  /** A child logger bound to `{ addon: name }`. */
  log: Logger
  /** Aborted when the add-on stops (or, while it starts, when the node begins stopping or the `signal` given to `use` aborts: then with that signal's reason). */
  signal: AbortSignal
  /** Listens to a node event (membership, peers, pipelines); removed when the add-on stops. */
  on: AddonHost['on']
  /** Removes a listener added with `on` before the add-on stops. */
  off: AddonHost['off']
  /**
   * Serves the add-on's own libp2p protocol: one JSON request in, one JSON
   * response out, over mTLS like every gridd protocol. Requests are
   * size-limited and checked against `schema` (anything JSON by default): the handler gets the
   * schema's output, typed so (`unknown` without one).
   * Only callers whose certificate holds one of `options.roles` are served
   * (default `['member']`; others get ERR_FORBIDDEN). Unregistered when the add-on stops.
   */
  handle: <S extends v.GenericSchema>(protocol: string, handler: (request: v.InferOutput<S>, from: string) => unknown, schema?: S, options?: AddonHandleOptions) => Promise<void>
  /**
   * Calls a protocol served by another node (a peer id of a member, or a multiaddr); 10 s timeout by default, aborted
   * when the add-on stops. Rejects with the handler's error (RemoteError), NotSerializableError or ValueTooLargeError
   * for the body, ProtocolNotServedError, PeerUnreachableError, or the reason of the signal that ended it.
   */
  request: (target: string | Multiaddr, protocol: string, body: unknown, options?: { signal?: AbortSignal }) => Promise<unknown>
}

/** Who may call an add-on's protocol. */
export interface AddonHandleOptions {
  /** Roles admitted (any one suffices); default `['member']`. */
  roles?: readonly Role[]
}

/** What `start` may return: something to stop, and where the add-on serves. */
export interface AddonInstance {
  stop?: () => unknown
  /** Where it serves (the built-in HTTP add-ons: `http://host:port`, the port actually bound, so port 0 can be found): `use` resolves to it. */
  url?: string
}

/** An add-on in use, as `node.use` resolves and `node.addon(name)` answers: its name and, if it serves one, its `url`. */
export interface AddonInfo {
  name: string
  url?: string
}

export interface Addon<Options = unknown> {
  /** Unique per node: `use` refuses a second add-on of the same name. */
  name: string
  /** Names of add-ons that must be in use first. */
  dependencies?: string[]
  start: (ctx: AddonContext, options: Options) => unknown
  /** Called on stop (reverse order of start), after the instance's own `stop`. */
  stop?: (ctx: AddonContext) => unknown
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i
const ADDON_KEYS: KnownKeys<Addon> = { name: true, dependencies: true, start: true, stop: true }

/** Declares an add-on; checks its shape at once so a typo fails where it is written. */
export function defineAddon<Options = unknown> (addon: Addon<Options>): Addon<Options> {
  if (typeof addon?.name !== 'string' || !NAME.test(addon.name)) throw new ConfigError('addon.name', `must match ${String(NAME)}, got ${JSON.stringify(addon?.name)}`)
  // a misspelt `stop` or `dependencies` would be dropped without a word: the add-on never stopped, or started too early
  checkKnownKeys(`addon ${addon.name}`, addon, ADDON_KEYS)
  if (typeof addon.start !== 'function') throw new ConfigError(`addon ${addon.name}.start`, 'must be a function')
  if (addon.stop != null && typeof addon.stop !== 'function') throw new ConfigError(`addon ${addon.name}.stop`, 'must be a function')
  if (addon.dependencies != null && (!Array.isArray(addon.dependencies) || addon.dependencies.some(d => typeof d !== 'string'))) throw new ConfigError(`addon ${addon.name}.dependencies`, 'must be an array of add-on names')
  return Object.freeze({ ...addon, dependencies: [...(addon.dependencies ?? [])] })
}
