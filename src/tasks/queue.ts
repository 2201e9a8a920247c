import type { Task } from './task.ts'
import { Fifo } from '../pipeline/fifo.ts'

/** One session's waiting tasks: higher priority first, FIFO within a priority. */
class PriorityQueue {
  /** One FIFO per priority. */
  private readonly levels = new Map<number, Fifo<Task>>()
  /** Priorities with a level, highest first. */
  private order: number[] = []
  size = 0

  push (task: Task): void {
    let level = this.levels.get(task.priority)
    if (level == null) {
      level = new Fifo<Task>()
      this.levels.set(task.priority, level)
      this.order = [...this.levels.keys()].sort((a, b) => b - a)
    }
    level.push(task)
    this.size++
  }

  shift (): Task | undefined {
    for (const priority of this.order) {
      const level = this.levels.get(priority)!
      const task = level.shift()
      // the last level stays when it empties (see FairQueue.shift); one left empty behind another goes now
      if (level.length === 0 && this.levels.size > 1) {
        this.levels.delete(priority)
        this.order = this.order.filter(p => p !== priority)
      }
      if (task == null) continue
      this.size--
      return task
    }
    return undefined
  }

  /** Keeps only the tasks still queued, in order; the levels left empty go. */
  keepQueued (): void {
    this.size = 0
    for (const [priority, level] of this.levels) {
      for (const task of level.takeAll()) if (task.status === 'queued') level.push(task)
      if (level.length === 0) this.levels.delete(priority)
      this.size += level.length
    }
    this.order = [...this.levels.keys()].sort((a, b) => b - a)
  }
}

/**
 * The tasks waiting for one module's workers, from every session: each session
 * has its own priority queue, and sessions take turns (round robin), so a
 * session with a million queued tasks cannot starve one with ten. Tasks
 * cancelled while queued are skipped when they come up, or let go once they are half of the queue.
 */
export class FairQueue {
  private readonly sessions = new Map<string, PriorityQueue>()
  /** Session ids in turn order; the next turn is `turn`. */
  private ring: string[] = []
  private turn = 0
  private count = 0
  /** Of `count`, tasks that stopped being queued while here (cancelled), as the pool told (`left`). */
  private stale = 0

  /** Tasks waiting (cancelled ones included until they come up, or are let go: see `left`). */
  get size (): number {
    return this.count
  }

  push (task: Task): void {
    let queue = this.sessions.get(task.session)
    if (queue == null) {
      queue = new PriorityQueue()
      this.sessions.set(task.session, queue)
      this.ring.push(task.session)
    }
    queue.push(task)
    this.count++
  }

  /** The next task to run (skipping ones no longer queued), or undefined. */
  shift (): Task | undefined {
    while (this.ring.length > 0) {
      if (this.turn >= this.ring.length) this.turn = 0
      const session = this.ring[this.turn]!
      const queue = this.sessions.get(session)!
      const task = queue.shift()
      if (queue.size > 0) {
        this.turn++
      } else if (this.ring.length === 1) {
        // the only session's queue stays, empty, for its next task: when tasks leave as fast as they come,
        // a queue (its priority level, arrays and map) was otherwise made and dropped for every task
        if (task == null) return undefined
      } else {
        this.sessions.delete(session)
        this.ring.splice(this.turn, 1)
      }
      if (task == null) continue
      this.count--
      if (task.status === 'queued') return task
      if (this.stale > 0) this.stale--
    }
    return undefined
  }

  /**
   * A task in here stopped being queued (cancelled while waiting). Once such tasks are half of what is
   * held, they are let go at once: skipped only when their turn came, they stayed (their inputs with them)
   * for as long as no worker took tasks, which with no room for the module is forever, and a submitter
   * that submitted and cancelled in a loop grew the queue without bound while its budget came back each time.
   */
  left (): void {
    this.stale++
    if (this.stale * 2 >= this.count) this.keepQueued()
  }

  /** Drops the tasks no longer queued, keeping the order within each session and whose turn is next. */
  private keepQueued (): void {
    this.count = 0
    for (const queue of this.sessions.values()) {
      queue.keepQueued()
      this.count += queue.size
    }
    // the session whose turn it was keeps it, or else the next one left after it
    let turn = 0
    const ring: string[] = []
    for (let i = 0; i < this.ring.length; i++) {
      const session = this.ring[i]!
      if (i === this.turn) turn = ring.length
      if (this.sessions.get(session)!.size > 0) ring.push(session)
      else this.sessions.delete(session)
    }
    this.ring = ring
    this.turn = turn < ring.length ? turn : 0
    this.stale = 0
  }
}
