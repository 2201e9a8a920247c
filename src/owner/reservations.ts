import type { ResourceRequest } from '../placement/index.ts'

/** How long a finished spawn still counts against its agent: its load gossip arrives well within it. */
export const RESERVATION_HOLD_MS = 100

/** What spawns in flight (and just done) take from one agent, on top of its gossiped load. */
export interface Reserved {
  cpu: number
  memoryMb: number
  workers: number
}

/** One spawn counted against its agent. */
export interface Reservation {
  /** Stops counting it (the spawn failed, or the agent's own load already includes it). Idempotent. */
  release: () => void
  /** Keeps counting it until gossip has caught up (`holdMs`) or `exited` settles, whichever is first. */
  holdUntil: (exited: Promise<unknown>) => void
}

const NOTHING: Readonly<Reserved> = Object.freeze({ cpu: 0, memoryMb: 0, workers: 0 })

/**
 * Concurrent spawns rank agents from the same gossiped load and would all
 * pick the same agent (a stampede into refusals): each spawn is counted
 * against its agent from the moment it is chosen until that agent's gossiped
 * load can include it. Pure bookkeeping: no I/O, one timer per held spawn.
 */
export class Reservations {
  private readonly holdMs: number
  private readonly byAgent = new Map<string, Reserved>()

  constructor (init: { holdMs?: number } = {}) {
    this.holdMs = init.holdMs ?? RESERVATION_HOLD_MS
  }

  reserve (agentId: string, resources: ResourceRequest): Reservation {
    this.add(agentId, resources, 1)
    let held = true
    const release = (): void => {
      if (!held) return
      held = false
      this.add(agentId, resources, -1)
    }
    const holdUntil = (exited: Promise<unknown>): void => {
      const timer = setTimeout(release, this.holdMs)
      timer.unref()
      const done = (): void => { clearTimeout(timer); release() }
      exited.then(done, done)
    }
    return { release, holdUntil }
  }

  /** What is reserved on `agentId` now (all zero when nothing is). */
  of (agentId: string): Readonly<Reserved> {
    return this.byAgent.get(agentId) ?? NOTHING
  }

  private add (agentId: string, resources: ResourceRequest, sign: 1 | -1): void {
    const r = this.byAgent.get(agentId) ?? { cpu: 0, memoryMb: 0, workers: 0 }
    r.cpu += sign * resources.cpu
    r.memoryMb += sign * resources.memoryMb
    r.workers += sign
    if (r.workers <= 0) this.byAgent.delete(agentId)
    else this.byAgent.set(agentId, r)
  }
}
