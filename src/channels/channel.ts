import { EventEmitter } from 'node:events'
import type { Logger } from '../logger.ts'
import { HlcClock } from './hlc.ts'
import { LwwStore, entryBytes, markOf } from './store.ts'
import type { Entry, WriteMark } from './store.ts'
import { MAX_KEY_LENGTH } from './schema.ts'
import { ChannelLimitError, ConfigError, NodeStoppedError, ValueTooLargeError } from '../errors.ts'

export interface ChannelChange {
  key: string
  /** The new value; undefined after a delete. */
  value: unknown
  /** Peer id of the node that wrote it. */
  origin: string
  deleted: boolean
}

export interface ChannelEvents {
  set: [ChannelChange]
  delete: [ChannelChange]
  /** Every change of a visible value, local or remote, set or delete. */
  change: [ChannelChange]
}

export interface ChannelDeps {
  selfId: string
  clock: HlcClock
  maxValueBytes: number
  /** Sends local writes to the grid. */
  publish: (entries: Entry[]) => void
  /** False once the node is stopping: writes are refused then. */
  running: () => boolean
  /** Signs a local write (the node's Ed25519 key); unsigned when absent (unit tests). */
  sign?: (channel: string, entry: Entry) => string
  /** Checks a remote write's signature by its origin; every write accepted when absent (unit tests). */
  verify?: (channel: string, entry: Entry) => boolean
  /** Keys held, tombstones included, for local writes (remote ones: REMOTE_CAP_FACTOR times it). Default unbounded. */
  maxKeys?: number
  /** Bytes held (keys, values, per-entry overhead), for local writes (remote ones: REMOTE_CAP_FACTOR times it). Default unbounded. */
  maxBytes?: number
  /** Where a listener that threw is reported (the write it heard of stands, and is sent); silent when absent (unit tests). */
  log?: Pick<Logger, 'error'>
  /** For how long this node's clock has run so far ahead of its peers' that they refuse its writes (ClockWatch); 0: it does not. */
  clockAheadForMs?: () => number
  /**
   * A monotonic clock (ms) that tombstones are aged by, from when this node took each up: neither the
   * writer's stamp nor this node's wall clock, which NTP may step. Default performance.now.
   */
  monotonicNow?: () => number
}

/** What a merge did: entries that changed something, and entries refused. */
export interface MergeResult {
  changed: number
  /** Values over this node's limit (a member with a larger limit wrote them). */
  tooLarge: number
  /** Stamps too far ahead of our clock, or counters past MAX_COUNTER. */
  drift: number
  /** Writes without a valid signature of their origin (forged, or relayed unsigned). */
  forged: number
  /** Writes refused because the channel is at its key or byte cap for remote writes (REMOTE_CAP_FACTOR times the local one). */
  full: number
}

/**
 * A grid-wide replicated map (`node.channel(name)`): last writer wins by
 * hybrid logical clock, deletes are tombstones, values are JSON. Values are
 * stored and handed out frozen: mutating one in place would change this
 * replica only, and silently. What apps and add-ons get; the replication's
 * own methods (merge, snapshot, digest, expire…) are ChannelReplica's only.
 */
export interface Channel extends EventEmitter<ChannelEvents> {
  readonly name: string
  /**
   * Resolves once the channel has exchanged snapshots with a member that has it open (waiting for
   * the node to join first), or every member asked had it not open, or the node is alone by design
   * (given no peer); at the latest after 5 s (never rejects). Reads before that may miss keys the grid already has.
   */
  readonly ready: Promise<void>
  /** Whether that opening exchange got there (`ready` resolved at its 5 s bound first leaves it false until it does). */
  readonly isSynced: boolean
  get: (key: string) => unknown
  has: (key: string) => boolean
  entries: () => Array<[string, unknown]>
  keys: () => string[]
  readonly size: number
  /** About what it holds (keys, values as JSON, tombstones): what a listing of it costs to serialise and send. */
  readonly bytes: number
  /** Writes `value` (JSON) for `key`, here at once and on every member shortly. */
  set: (key: string, value: unknown) => void
  /** Deletes `key` grid-wide (a tombstone, so a late older write cannot bring it back); true if it was there. */
  delete: (key: string) => boolean
  /**
   * For how long (ms) this node's clock has run so far ahead of most of its peers' that they refuse its
   * writes: what it writes here holds here only, a lease among them (ClockWatch). 0 when it does not.
   */
  clockAheadForMs: () => number
}

/** This node's replica of a channel: the public Channel, plus what the channel registry and its sync use to replicate it. */
export class ChannelReplica extends EventEmitter<ChannelEvents> implements Channel {
  readonly name: string
  /**
   * Resolves once the channel has exchanged snapshots with a member that has it open (waiting for
   * the node to join first), or every member asked had it not open, or the node is alone by design
   * (given no peer); at the latest after 5 s (never rejects). Reads before that may miss keys the grid already has.
   */
  readonly ready: Promise<void>
  private readonly store = new LwwStore()
  private readonly deps: ChannelDeps
  private readonly monotonicNow: () => number
  private markReady!: () => void
  private syncedYet = false

  constructor (name: string, deps: ChannelDeps) {
    super()
    this.name = name
    this.deps = deps
    this.monotonicNow = deps.monotonicNow ?? (() => performance.now())
    this.ready = new Promise(resolve => { this.markReady = resolve })
  }

  get (key: string): unknown {
    return this.store.get(key)
  }

  /**
   * For how long (ms) this node's clock has run so far ahead of most of its peers' that they refuse its
   * writes: what it writes here holds here only, a lease among them (ClockWatch). 0 when it does not.
   */
  clockAheadForMs (): number {
    return this.deps.clockAheadForMs?.() ?? 0
  }

  has (key: string): boolean {
    return this.store.get(key) !== undefined
  }

  entries (): Array<[string, unknown]> {
    return this.store.entries()
  }

  keys (): string[] {
    return this.store.entries().map(([key]) => key)
  }

  get size (): number {
    return this.store.size
  }

  /** About what it holds (keys, values as JSON, tombstones): what a listing of it costs to serialise and send. */
  get bytes (): number {
    return this.store.bytes
  }

  /** Writes `value` (JSON) for `key`, here at once and on every member shortly. */
  set (key: string, value: unknown): void {
    checkKey(key)
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (err) {
      throw new ConfigError('value', `must be JSON-serializable: ${(err as Error).message}`)
    }
    if (text === undefined) throw new ConfigError('value', 'must be a JSON value (use delete() to remove a key)')
    const bytes = Buffer.byteLength(text)
    if (bytes > this.deps.maxValueBytes) throw new ValueTooLargeError(key, bytes, this.deps.maxValueBytes)
    const copy: unknown = JSON.parse(text)
    this.checkRoom({ key, value: copy, deleted: false, t: 0, c: 0, origin: this.deps.selfId }, true)
    this.write({ key, value: copy, deleted: false, ...this.deps.clock.tick(), origin: this.deps.selfId })
  }

  /** Deletes `key` grid-wide (a tombstone, so a late older write cannot bring it back); true if it was there. */
  delete (key: string): boolean {
    checkKey(key)
    const had = this.has(key)
    this.checkRoom({ key, deleted: true, t: 0, c: 0, origin: this.deps.selfId }, true)
    this.write({ key, deleted: true, ...this.deps.clock.tick(), origin: this.deps.selfId })
    return had
  }

  /** Entries, tombstones included, each with how long it has been held here (for snapshots). */
  snapshot (): Entry[] {
    return this.onWire(this.store.all())
  }

  /** Equal on two members exactly when they hold the same writes. */
  digest (): string {
    return this.store.digest()
  }

  /** Our entries that another member's snapshot (merged here first) lacks or holds older writes of. */
  newerThan (theirs: Map<string, WriteMark> | Entry[]): Entry[] {
    return this.onWire(this.store.newerThan(Array.isArray(theirs) ? new Map(theirs.map(e => [e.key, markOf(e)])) : theirs))
  }

  /** Merges entries from the grid (gossip or a snapshot). */
  merge (entries: Entry[]): MergeResult {
    const result: MergeResult = { changed: 0, tooLarge: 0, drift: 0, forged: 0, full: 0 }
    const now = this.monotonicNow()
    for (const received of entries) {
      const entry = stored(received)
      // snapshots relay others' writes: hold them to the same limit as gossip
      if (!this.fits(entry)) {
        result.tooLarge++
        continue
      }
      // a stale write changes nothing: no need to pay for its signature check
      if (!this.store.isNewer(entry)) continue
      if (this.deps.verify != null && !this.deps.verify(this.name, entry)) {
        result.forged++
        continue
      }
      if (!this.checkRoom(entry, false)) {
        result.full++
        continue
      }
      if (!this.deps.clock.receive(entry)) {
        result.drift++
        continue
      }
      // a tombstone is aged from when the sender took it up (a write without heldMs: a gossiped one, or
      // from an older node, from now); a sender's claim is not signed, so it can age one no further than
      // its stamp does (what every member judged by before): it cannot make a delete drop at once
      const held = Math.min(heldMsOf(received), this.deps.clock.mostHeldMs(entry.t))
      if (this.applyAndEmit(entry, now - held)) result.changed++
    }
    return result
  }

  /** Drops tombstones held here longer than `ttlMs` (by monotonicNow, from when this node took each up); returns how many. */
  expire (ttlMs: number): number {
    return this.store.expire(this.monotonicNow(), ttlMs)
  }

  /** Whether that opening exchange got there (`ready` resolved at its 5 s bound first leaves it false until it does). */
  get isSynced (): boolean {
    return this.syncedYet
  }

  /** Called by the registry once the opening exchange got there. */
  synced (): void {
    this.syncedYet = true
    this.markReady()
  }

  /** Called by the registry when `ready` is due though the opening exchange has not got there (its bound, a stop). */
  readyAtBound (): void {
    this.markReady()
  }

  /** Whether a remote write is within the value limit, and the whole entry (key, stamp, origin, signature) within that plus ENTRY_SLACK_BYTES. */
  private fits (entry: Entry): boolean {
    const value = entry.deleted ? 0 : Buffer.byteLength(JSON.stringify(entry.value) ?? '')
    if (value > this.deps.maxValueBytes) return false
    const rest = Buffer.byteLength(JSON.stringify({ ...entry, value: undefined }))
    return value + rest <= this.deps.maxValueBytes + ENTRY_SLACK_BYTES
  }

  /**
   * Whether `entry` fits the key and byte caps (a remote one: REMOTE_CAP_FACTOR times them); throws
   * ChannelLimitError instead when `local`. A write that adds no key and no bytes always fits, so a
   * channel past its cap by remote writes can still be rewritten smaller and emptied here.
   */
  private checkRoom (entry: Entry, local: boolean): boolean {
    const current = this.store.entry(entry.key)
    const { maxKeys, maxBytes } = this.deps
    const factor = local ? 1 : REMOTE_CAP_FACTOR
    const added = entryBytes(entry) - (current == null ? 0 : entryBytes(current))
    let over: ChannelLimitError | undefined
    if (maxKeys != null && current == null && this.store.keyCount >= maxKeys * factor) over = new ChannelLimitError('keys', maxKeys, this.name)
    else if (maxBytes != null && added > 0 && this.store.bytes + added > maxBytes * factor) over = new ChannelLimitError('bytes', maxBytes, this.name)
    if (over != null && local) throw over
    return over == null
  }

  private write (entry: Entry): void {
    if (!this.deps.running()) throw new NodeStoppedError()
    if (this.deps.sign != null) entry.sig = this.deps.sign(this.name, entry)
    this.applyAndEmit(entry, this.monotonicNow())
    this.deps.publish([entry])
  }

  /** The entries as a snapshot carries them: each tombstone with for how long it has been held here. */
  private onWire (entries: Entry[]): Entry[] {
    const now = this.monotonicNow()
    return entries.map(e => e.deleted ? { ...e, heldMs: this.store.heldMs(e.key, now) ?? 0 } : e)
  }

  private applyAndEmit (entry: Entry, learnedAtMs: number): boolean {
    if (!entry.deleted) deepFreeze(entry.value)
    const applied = this.store.apply(entry, learnedAtMs)
    if (applied == null) return false
    const before = applied.previous
    const wasVisible = before != null && !before.deleted
    // a delete of a key that was not there, or a rewrite of the same JSON, changes nothing visible
    if (entry.deleted && !wasVisible) return true
    if (!entry.deleted && wasVisible && JSON.stringify(before.value) === JSON.stringify(entry.value)) return true
    const change: ChannelChange = { key: entry.key, value: entry.deleted ? undefined : entry.value, origin: entry.origin, deleted: entry.deleted }
    this.notify(entry.deleted ? 'delete' : 'set', change)
    this.notify('change', change)
    return true
  }

  /**
   * A listener that throws is logged: thrown here it skipped `change` after `set`, the publish of a local
   * write already applied (this member alone held it, and `set` threw as if it had failed), or the rest of
   * a merged batch.
   */
  private notify (event: 'set' | 'delete' | 'change', change: ChannelChange): void {
    try {
      this.emit(event, change)
    } catch (err) {
      this.deps.log?.error({ err, channel: this.name, event }, `a "${event}" listener of channel ${this.name} threw; the write stands`)
    }
  }
}

/**
 * Remote writes are taken up to this many times the key and byte caps, local ones up to the caps:
 * replicas that each filled a channel to its cap with different writes then still converge (with
 * one cap for both, each refused the other's writes, and their digests differed for good).
 */
export const REMOTE_CAP_FACTOR = 2

/** Room beyond the value for the rest of an entry: a 256-character key escaped as JSON, stamp, origin, signature. */
const ENTRY_SLACK_BYTES = 2048

/**
 * What a remote write is stored (and relayed) as: a tombstone without any value. The signature
 * covers none (signature.ts signs null for a delete), so one could otherwise carry any payload,
 * uncounted by the caps, to every member. Nor is the sender's heldMs kept: it is this replica's
 * own that its snapshots carry.
 */
function stored (entry: Entry): Entry {
  if (!('heldMs' in entry) && !(entry.deleted && 'value' in entry)) return entry
  const { heldMs: _sendersOwn, ...rest } = entry
  if (!rest.deleted) return rest
  const { value: _dropped, ...tombstone } = rest
  return tombstone
}

/** For how long the sender of `entry` has held it, as it says (a tombstone in a snapshot); 0 when it does not say. */
function heldMsOf (entry: Entry): number {
  return entry.deleted && typeof entry.heldMs === 'number' && entry.heldMs > 0 ? entry.heldMs : 0
}

function checkKey (key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) throw new ConfigError('key', `must be a string of 1..${MAX_KEY_LENGTH} characters`)
}

function deepFreeze (value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const child of Object.values(value)) deepFreeze(child)
}
