import type { Channel } from '../channels/channel.ts'
import type { Member } from '../membership/member.ts'

/** A candidate's advert carries `at`, changed at every refresh (its writer's clock; readers only watch that it changes). */
export interface RefreshedAdvert {
  at?: number
}

/** How often a candidate writes its advert again, unchanged but for `at`. */
export const ADVERT_REFRESH_MS = 15_000
/** An advert unchanged this long (by this node's clock) is a candidate's that stopped: 4 refreshes missed. */
export const ADVERT_STALE_MS = 60_000
/**
 * An advert unchanged this many times its stale age, of a peer that is no alive member, is deleted by whoever
 * sees it: a member that died for good (a pod restarted under a new peer id) never withdraws its own, and each
 * would stay in the channel, and in every snapshot of it, for good. Far past staleness, so a live writer whose
 * refreshes were refused a while (its clock ahead) is not it; it would write its advert again at its next refresh.
 */
export const ABANDONED_AFTER_STALE = 12
/** …and never sooner than this. */
const MIN_ABANDONED_MS = 3_600_000
const SWEEP_EVERY_MS = 60_000

/** How far the clocks of members may differ: the channels refuse writes stamped further ahead (HlcClock's maxDriftMs). */
const CLOCK_SKEW_MS = 60_000

/**
 * Which candidates' adverts (schedule firers, deployment runners) are still
 * refreshed. A node that served the API and was killed, then restarted without
 * it, never withdraws its advert, and stays alive: without ageing, it would stay
 * elected for schedules it never fires. A node whose clock runs so far ahead
 * that the others refuse its writes cannot refresh its advert for them: they age
 * it out, as it leaves itself out (ClockWatch), so both elect among the rest.
 * Ages are measured by this node's clock from when it saw each advert change,
 * so clocks skewed between nodes (up to the channels' 60 s) do not matter;
 * an advert seen for the first time (this node just started) is judged by its
 * writer's `at`, allowing for that skew: else every start would elect, for a
 * minute, the nodes the others had already aged out.
 */
export class FreshAdverts<A extends RefreshedAdvert> {
  private readonly seen = new Map<string, { at: number | undefined, since: number }>()
  private readonly staleMs: number
  private sweptAt = -Infinity

  /** `staleMs`: how long an advert may stay unchanged (four of its writer's refreshes). */
  constructor (staleMs: number = ADVERT_STALE_MS) {
    this.staleMs = staleMs
  }

  /** The peers of `adverts` whose advert changed within `staleMs` (and older nodes' adverts, which have no `at`). */
  fresh (adverts: Map<string, A>, now: number): Map<string, A> {
    for (const peer of this.seen.keys()) if (!adverts.has(peer)) this.seen.delete(peer)
    const out = new Map<string, A>()
    for (const [peer, advert] of adverts) {
      const seen = this.seen.get(peer)
      if (seen == null && advert.at != null && now - advert.at >= this.staleMs + CLOCK_SKEW_MS) {
        this.seen.set(peer, { at: advert.at, since: now - this.staleMs })
        continue
      }
      if (seen == null || seen.at !== advert.at) this.seen.set(peer, { at: advert.at, since: now })
      else if (advert.at != null && now - seen.since >= this.staleMs) continue
      out.set(peer, advert)
    }
    return out
  }

  /**
   * The peers, none of them in `alive`, whose advert (with `at`) has not changed for ABANDONED_AFTER_STALE
   * stale ages (an hour at least) by this node's clock: their writers are gone, the adverts are to delete.
   */
  abandoned (now: number, alive: () => Set<string>): string[] {
    // looked for once a minute: the members are read only then
    if (now - this.sweptAt < SWEEP_EVERY_MS) return []
    this.sweptAt = now
    const after = Math.max(MIN_ABANDONED_MS, ABANDONED_AFTER_STALE * this.staleMs)
    const old = [...this.seen].filter(([, seen]) => seen.at != null && now - seen.since >= after).map(([peer]) => peer)
    if (old.length === 0) return []
    const members = alive()
    return old.filter(peer => !members.has(peer))
  }

  /**
   * The candidates of a lease as this node sees them: the members in `alive` (this node counts as alive)
   * whose advert is fresh. This node leaves itself out once its clock has run too far ahead for the others
   * (`selfAheadMs`, ClockWatch) as long as they take to age its advert out, so that both sides move at
   * about the same time and it goes on holding what it holds meanwhile; and at once when it holds a CRL
   * that revokes its own certificate (`selfRevoked`): cut off from every member, it would see them all dead
   * and run every job beside them.
   */
  candidates (adverts: Map<string, A>, now: number, members: SelfAndAlive): Map<string, A> {
    const out = new Map<string, A>()
    for (const [peer, advert] of this.fresh(adverts, now)) {
      if (peer === members.self ? members.selfRevoked === true || members.selfAheadMs >= this.staleMs : !members.alive.has(peer)) continue
      out.set(peer, advert)
    }
    return out
  }
}

/** This node's view of the members for `FreshAdverts.candidates`. */
export interface SelfAndAlive {
  alive: Set<string>
  self: string
  /** How long this node's clock has run too far ahead for the others. */
  selfAheadMs: number
  /** Whether the newest CRL this node holds lists its own certificate. */
  selfRevoked?: boolean
}

/** This node's view of the members for `FreshAdverts.candidates`: the alive ones and itself, how long its clock has run ahead, whether it is revoked. */
export function aliveMembers (self: string, members: Array<Pick<Member, 'id' | 'state'>>, channel: Pick<Channel, 'clockAheadForMs'>, selfRevoked: () => boolean = () => false): SelfAndAlive {
  return { alive: aliveIds(members), self, selfAheadMs: channel.clockAheadForMs(), selfRevoked: selfRevoked() }
}

function aliveIds (members: Array<Pick<Member, 'id' | 'state'>>): Set<string> {
  return new Set(members.filter(m => m.state === 'alive').map(m => m.id))
}

/** Deletes the adverts `adverts` finds abandoned (FreshAdverts.abandoned): of peers neither alive nor this node. */
export function withdrawAbandoned (adverts: FreshAdverts<RefreshedAdvert>, records: { withdraw: (peer: string) => void }, self: string, members: () => Array<Pick<Member, 'id' | 'state'>>, now: number): void {
  const alive = (): Set<string> => aliveIds(members()).add(self)
  for (const peer of adverts.abandoned(now, alive)) {
    try { records.withdraw(peer) } catch {} // the node stopping: the next run looks again
  }
}
