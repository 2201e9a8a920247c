/** What a new task's journal insert takes besides the task (its module's path on this node, its input and resources as JSON). */
export interface NewTask {
  path: string
  input: string | null
  resources: string | null
}

/**
 * What the recorder keeps of a task it follows, on the task itself (`Task.journal`):
 * maps keyed by task, set and cleared for every task in every window, were most of
 * the journal's work on the node's thread.
 */
export interface JournalEntry {
  /** Its row, once numbered (while it is unfinished: a final task changes no more). */
  row?: number
  /** Waiting for its insert: what the insert takes besides the task. */
  insert?: NewTask
  /** Its result's JSON, made when its size was checked, until written (null: undefined). */
  result?: string | null
  /** The window (the recorder's count of flushes) it was last dispatched in, while that attempt is in flight. */
  dispatchedIn?: number
  /** In the recorder's list of changed tasks. */
  changed?: boolean
}
