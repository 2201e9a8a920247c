import { EventEmitter } from 'node:events'
import { HlcClock } from './hlc.ts'
import { LwwStore } from './store.ts'
import type { Entry } from './store.ts'
import { MAX_KEY_LENGTH } from './schema.ts'
import { ConfigError, ValueTooLargeError } from '../errors.ts'

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
}

/**
 * A grid-wide replicated map (`node.channel(name)`): last writer wins by
 * hybrid logical clock, deletes are tombstones, values are JSON.
 */
export class Channel extends EventEmitter<ChannelEvents> {
  readonly name: string
  private readonly store = new LwwStore()
  private readonly deps: ChannelDeps

  constructor (name: string, deps: ChannelDeps) {
    super()
    this.name = name
    this.deps = deps
  }

  get (key: string): unknown {
    return this.store.get(key)
  }

  has (key: string): boolean {
    return this.store.get(key) !== undefined
  }

  entries (): Array<[string, unknown]> {
    return this.store.entries()
  }

  get size (): number {
    return this.store.size
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
    this.write({ key, value: JSON.parse(text), deleted: false, ...this.deps.clock.tick(), origin: this.deps.selfId })
  }

  /** Deletes `key` grid-wide (a tombstone, so a late older write cannot bring it back). */
  delete (key: string): void {
    checkKey(key)
    this.write({ key, deleted: true, ...this.deps.clock.tick(), origin: this.deps.selfId })
  }

  /** Entries, tombstones included (for snapshots). */
  snapshot (): Entry[] {
    return this.store.all()
  }

  /** Merges entries from the grid (gossip or a snapshot); returns how many changed something. */
  merge (entries: Entry[]): number {
    let changed = 0
    for (const entry of entries) {
      // snapshots relay others' writes: hold them to the same value limit as gossip
      if (!entry.deleted && Buffer.byteLength(JSON.stringify(entry.value) ?? '') > this.deps.maxValueBytes) continue
      if (!this.deps.clock.receive(entry)) continue
      if (this.applyAndEmit(entry)) changed++
    }
    return changed
  }

  expire (nowMs: number, ttlMs: number): number {
    return this.store.expire(nowMs, ttlMs)
  }

  private write (entry: Entry): void {
    this.applyAndEmit(entry)
    this.deps.publish([entry])
  }

  private applyAndEmit (entry: Entry): boolean {
    const applied = this.store.apply(entry)
    if (applied == null) return false
    const before = applied.previous
    const wasVisible = before != null && !before.deleted
    // a delete of a key that was not there, or a rewrite of the same JSON, changes nothing visible
    if (entry.deleted && !wasVisible) return true
    if (!entry.deleted && wasVisible && JSON.stringify(before.value) === JSON.stringify(entry.value)) return true
    const change: ChannelChange = { key: entry.key, value: entry.deleted ? undefined : entry.value, origin: entry.origin, deleted: entry.deleted }
    this.emit(entry.deleted ? 'delete' : 'set', change)
    this.emit('change', change)
    return true
  }
}

function checkKey (key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) throw new ConfigError('key', `must be a string of 1..${MAX_KEY_LENGTH} characters`)
}
