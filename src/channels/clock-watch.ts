import type { Logger } from '../logger.ts'

/** Offsets older than this are not counted: a clock fixed meanwhile (NTP caught up) stops counting as ahead. */
const SAMPLE_TTL_MS = 5 * 60_000
/** Peers remembered at once (one offset each), least recently sampled first out. */
const MAX_PEERS = 1024
/** A warning about one peer's offset at most this often. */
const WARN_EVERY_MS = 10 * 60_000

/**
 * How this node's wall clock compares with its peers', read off the channels'
 * snapshot exchanges (each side sends its wall time). Channels order writes by
 * hybrid logical clock and refuse stamps more than `maxDriftMs` ahead of their
 * own clock: a node whose clock runs that far ahead of the others applies its
 * own writes while every peer refuses them, and keeps its own view of every key
 * it wrote — a lease among them, so it would go on firing or running as a
 * holder nobody else sees. `aheadForMs()` says so: the others leave such a node
 * out of the candidates once its advert has not changed for them for a while
 * (its refreshes are refused: leases/fresh-adverts.ts), and the node leaves
 * itself out after the same while, so that someone holds the lease meanwhile.
 * Only exchanges this node started are sampled, the round trip's middle taken
 * as the peer's moment: an answer to an ask that waited out a pause here would
 * read as this clock being ahead. Either way the offsets are logged.
 */
export class ClockWatch {
  private readonly offsets = new Map<string, { aheadMs: number, at: number }>()
  private readonly warned = new Map<string, number>()
  private readonly maxDriftMs: number
  private readonly log: Logger
  private readonly now: () => number
  private wasAhead = false
  /** Since when `ahead()` has held (by the samples that said so). */
  private aheadSince = 0
  private aheadLoggedAt = -Infinity

  constructor (maxDriftMs: number, log: Logger, now: () => number = Date.now) {
    this.maxDriftMs = maxDriftMs
    this.log = log
    this.now = now
  }

  /**
   * A peer's wall time `theirNow`, read in an exchange that this node started at `sentAt` (the round
   * trip's middle is taken as the moment the peer read its clock) or, without it, just now.
   */
  sample (peer: string, theirNow: number, sentAt?: number): void {
    const now = this.now()
    const aheadMs = (sentAt == null ? now : (sentAt + now) / 2) - theirNow
    this.offsets.delete(peer)
    this.offsets.set(peer, { aheadMs, at: now })
    if (this.offsets.size > MAX_PEERS) this.offsets.delete(this.offsets.keys().next().value!)
    this.warnAbout(peer, aheadMs, now)
    this.checkAhead(now)
  }

  /** For how long (ms) this node's clock has run ahead of most of its peers by more than they accept; 0 when it does not. */
  aheadForMs (): number {
    return this.ahead() ? Math.max(this.now() - this.aheadSince, 1) : 0
  }

  /** Whether this node's clock runs ahead of most peers sampled lately by more than they accept. */
  ahead (): boolean {
    const now = this.now()
    let counted = 0
    let beyond = 0
    for (const { aheadMs, at } of this.offsets.values()) {
      if (now - at > SAMPLE_TTL_MS) continue
      counted++
      if (aheadMs > this.maxDriftMs) beyond++
    }
    return counted > 0 && beyond * 2 > counted
  }

  private checkAhead (now: number): void {
    const ahead = this.ahead()
    // said once a while at most: with few peers sampled the majority can swing back and forth
    if (ahead && !this.wasAhead && now - this.aheadLoggedAt >= WARN_EVERY_MS) {
      this.aheadLoggedAt = now
      this.log.error({ maxDriftMs: this.maxDriftMs }, `this node's clock runs more than ${this.maxDriftMs / 1000} s ahead of most of its peers': they refuse its channel writes, so it holds no schedule or deployment lease until its clock is right (NTP)`)
    } else if (!ahead && this.wasAhead && this.aheadLoggedAt > -Infinity) {
      this.log.info('this node\'s clock agrees with its peers\' again')
    }
    if (ahead && !this.wasAhead) this.aheadSince = now
    this.wasAhead = ahead
  }

  private warnAbout (peer: string, aheadMs: number, now: number): void {
    if (Math.abs(aheadMs) <= this.maxDriftMs / 2 || now - (this.warned.get(peer) ?? -Infinity) < WARN_EVERY_MS) return
    this.warned.delete(peer)
    this.warned.set(peer, now)
    if (this.warned.size > MAX_PEERS) this.warned.delete(this.warned.keys().next().value!)
    const seconds = Math.round(Math.abs(aheadMs) / 1000)
    this.log.warn({ peer, aheadMs: Math.round(aheadMs), maxDriftMs: this.maxDriftMs }, aheadMs > 0
      ? `this node's clock is ${seconds} s ahead of peer ${peer}'s: past ${this.maxDriftMs / 1000} s that peer refuses this node's channel writes`
      : `peer ${peer}'s clock is ${seconds} s ahead of this node's: past ${this.maxDriftMs / 1000} s this node refuses its channel writes`)
  }
}
