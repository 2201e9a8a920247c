import type { Member } from './member.ts'

const DEFAULT_MAX_REMEMBERED = 1000

/**
 * Members dropped from the live table (left, or failed past the reconnect
 * window): kept for `grid status --all` only, bounded by count (the oldest
 * goes first), never gossiped and never used for placement or sync.
 */
export class RememberedMembers {
  private readonly max: number
  private readonly rows = new Map<string, { member: Member, forgottenAt: number }>()

  constructor (max = DEFAULT_MAX_REMEMBERED) {
    this.max = max
  }

  add (member: Member, now: number): void {
    this.rows.delete(member.id)
    this.rows.set(member.id, { member, forgottenAt: now })
    while (this.rows.size > this.max) this.rows.delete(this.rows.keys().next().value!)
  }

  get (id: string): Member | undefined {
    return this.rows.get(id)?.member
  }

  /** A member back in the live table is not history any more. */
  delete (id: string): void {
    this.rows.delete(id)
  }

  /** The rows, `lastSeenMs` still counting from when the member was last heard. */
  list (now: number): Member[] {
    return [...this.rows.values()].map(({ member, forgottenAt }) => ({ ...member, lastSeenMs: member.lastSeenMs + Math.max(0, Math.round(now - forgottenAt)) }))
  }
}
