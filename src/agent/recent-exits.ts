import type { WorkerExit } from '../worker/ipc.ts'

/** Exits remembered: enough for every worker an agent may run to die at once, small enough to never matter. */
const MAX_REMEMBERED = 256
const REMEMBER_MS = 60_000

/**
 * How recently ended workers ended, for the peer that spawned them. A worker
 * that dies at start (its import fails) can be gone before its requester
 * attaches: the requester then hears that exit and its cause, not "no such worker".
 */
export class RecentExits {
  private readonly exits = new Map<string, { owner: string, exit: WorkerExit, at: number }>()

  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  record (id: string, owner: string, exit: WorkerExit): void {
    this.exits.delete(id)
    this.exits.set(id, { owner, exit, at: this.now() })
    while (this.exits.size > MAX_REMEMBERED) this.exits.delete(this.exits.keys().next().value as string)
  }

  /** The exit of worker `id`, if `peer` spawned it and it ended within the last minute. */
  of (id: string, peer: string): WorkerExit | undefined {
    const entry = this.exits.get(id)
    if (entry == null || entry.owner !== peer || this.now() - entry.at > REMEMBER_MS) return undefined
    return entry.exit
  }
}
