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
}

/**
 * The tasks waiting for one module's workers, from every session: each session
 * has its own priority queue, and sessions take turns (round robin), so a
 * session with a million queued tasks cannot starve one with ten. Tasks
 * cancelled while queued are skipped when they come up.
 */
export class FairQueue {
  private readonly sessions = new Map<string, PriorityQueue>()
  /** Session ids in turn order; the next turn is `turn`. */
  private ring: string[] = []
  private turn = 0
  private count = 0

  /** Tasks waiting (cancelled ones included until they come up). */
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
    }
    return undefined
  }
}
