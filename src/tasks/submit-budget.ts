import { NotSerializableError, TaskLimitError } from '../errors.ts'

/** Open tasks (queued or running) one remote submitter may hold on this owner. */
export const MAX_OPEN_TASKS_PER_PEER = 10_000
/** The inputs of one remote submitter's open tasks, as JSON, at most: they stay in memory and in the journal. */
export const MAX_OPEN_INPUT_BYTES_PER_PEER = 64 * 1024 * 1024
/**
 * And all remote submitters together (four submitters' worth): a member may relay for any caller it names
 * (tasks protocol), so callers, and their budgets, cost it nothing to make up.
 */
export const MAX_OPEN_TASKS_TOTAL = 4 * MAX_OPEN_TASKS_PER_PEER
export const MAX_OPEN_INPUT_BYTES_TOTAL = 4 * MAX_OPEN_INPUT_BYTES_PER_PEER

export interface SubmitLimits {
  /** Open at once, at most (tasks, or what the budget counts: `noun`). */
  tasks: number
  /** Their inputs as JSON, at most. */
  bytes: number
  /** Open at once for all submitters together, at most (default unbounded). */
  totalTasks?: number
  /** Their inputs together, at most (default unbounded). */
  totalBytes?: number
}

/**
 * What each remote submitter holds open on this owner, bounded (DESIGN §11: every collection a peer can grow
 * is bounded): a peer with a valid certificate submitting in a loop while no agent has room would otherwise
 * fill the owner's memory and its journal. A task's room is given back when it ends, however it ends.
 */
export class SubmitBudget {
  private readonly limits: SubmitLimits
  private readonly noun: string
  private readonly open = new Map<string, { tasks: number, bytes: number }>()
  private readonly total = { tasks: 0, bytes: 0 }

  /** `noun`: what it counts, for its refusals (tasks; the HTTP API also counts sessions). */
  constructor (limits: SubmitLimits = { tasks: MAX_OPEN_TASKS_PER_PEER, bytes: MAX_OPEN_INPUT_BYTES_PER_PEER, totalTasks: MAX_OPEN_TASKS_TOTAL, totalBytes: MAX_OPEN_INPUT_BYTES_TOTAL }, noun = 'tasks') {
    this.limits = limits
    this.noun = noun
  }

  /** Room for one more task of `bytes` of input for `peer`, or TaskLimitError; call the returned function once, when it ends. */
  take (peer: string, bytes: number): () => void {
    const held = this.open.get(peer) ?? { tasks: 0, bytes: 0 }
    if (held.tasks + 1 > this.limits.tasks) throw new TaskLimitError(`${held.tasks} ${this.noun} of yours are open on this node, the most it holds for one submitter: wait for some to end`)
    if (held.bytes + bytes > this.limits.bytes) throw new TaskLimitError(`the inputs of your open ${this.noun} here come to ${held.bytes} bytes; with this one's ${bytes} that is over the ${this.limits.bytes} this node holds for one submitter`)
    if (this.total.tasks + 1 > (this.limits.totalTasks ?? Infinity)) throw new TaskLimitError(`${this.total.tasks} ${this.noun} of remote submitters are open on this node, the most it holds for all of them: wait for some to end`)
    if (this.total.bytes + bytes > (this.limits.totalBytes ?? Infinity)) throw new TaskLimitError(`the inputs of the open ${this.noun} of remote submitters here come to ${this.total.bytes} bytes; with this one's ${bytes} that is over the ${this.limits.totalBytes} this node holds for all of them`)
    return this.hold(peer, bytes)
  }

  /**
   * Counts one that is already held (resumed from the journal after a restart: it was accepted then), even
   * past the limits: `peer`'s next `take` is refused until enough of them end. Call the returned function once, when it ends.
   */
  hold (peer: string, bytes: number): () => void {
    const held = this.open.get(peer) ?? { tasks: 0, bytes: 0 }
    held.tasks++
    held.bytes += bytes
    this.total.tasks++
    this.total.bytes += bytes
    this.open.set(peer, held)
    let released = false
    return () => {
      if (released) return
      released = true
      held.tasks--
      held.bytes -= bytes
      this.total.tasks--
      this.total.bytes -= bytes
      if (held.tasks === 0) this.open.delete(peer)
    }
  }

  /** Submitters holding open tasks now. */
  get submitters (): number {
    return this.open.size
  }
}

/** A task input's size as the budget counts it: its JSON; one nested past JSON.stringify's stack (JSON.parse took it) is NotSerializableError. */
export function inputBytes (input: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(input ?? null))
  } catch (err) {
    throw new NotSerializableError('the task\'s input', err)
  }
}

/** A resumed task's input size as a budget counts it; one JSON.stringify cannot take here (it took it when the task came) counts as none, rather than fail the node's start. */
export function resumedInputBytes (input: unknown): number {
  try {
    return inputBytes(input)
  } catch {
    return 0
  }
}

/** `submit()`'s task, with `release` called once it ends; if `submit` throws, `release` is called at once and the error rethrown. */
export function releasedAtEnd<T extends { settled: Promise<void> }> (release: () => void, submit: () => T): T {
  let task: T
  try {
    task = submit()
  } catch (err) {
    release()
    throw err
  }
  void task.settled.then(release)
  return task
}

/** Sessions opened remotely (tasks protocol, HTTP API) and not yet closed and done, at most: all callers together. */
export const MAX_REMOTE_SESSIONS = 256
/** And of one caller (a peer, a token subject), so one cannot take them all. */
export const MAX_REMOTE_SESSIONS_PER_CALLER = 64

/** What the tasks protocol and the HTTP API each hold of sessions opened through them (release once closed and done). */
export function remoteSessionsBudget (): SubmitBudget {
  return new SubmitBudget({ tasks: MAX_REMOTE_SESSIONS_PER_CALLER, bytes: Number.POSITIVE_INFINITY, totalTasks: MAX_REMOTE_SESSIONS }, 'sessions')
}
