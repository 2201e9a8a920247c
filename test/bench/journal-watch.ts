/**
 * The task journal as the benches see it: rows posted to the writer threads
 * of this process (inserts and updates), and a wait until every writer has
 * caught up. A journal's writer thread yields to the tasks and may trail them
 * by seconds on a busy machine; a round that stopped its clock before the
 * journal caught up would leave the journal's work to whatever ran next (in
 * bench:tasks, another system's round) and read faster than it is.
 */
import { JournalWriter } from '../../src/tasks/journal-writer.ts'
import { sleep } from './lib.ts'

let rows = 0
const writers = new Set<JournalWriter>()
let watching = false

/** Starts counting (once per process): wraps the writer's `write`. */
export function watchJournal (): void {
  if (watching) return
  watching = true
  const post = JournalWriter.prototype.write
  JournalWriter.prototype.write = function (batch) {
    rows += batch.inserts + batch.updates
    writers.add(this)
    post.call(this, batch)
  }
}

/** Journal rows posted so far, by every owner of this process. */
export function journalRows (): number {
  return rows
}

/**
 * Resolves once no row was posted for 100 ms and no writer has a batch in
 * flight (a recorder flushes every 10–20 ms), or after `timeoutMs`; returns
 * whether it caught up.
 */
export async function journalCaughtUp (timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs
  for (let last = -1; performance.now() < until; last = rows) {
    if (rows === last && [...writers].every(w => w.inFlight === 0)) return true
    await sleep(100)
  }
  return false
}
