/**
 * The journal's writer thread (a node:worker_threads worker, started by
 * JournalWriter): it owns the SQLite connection, so the owner's main thread
 * never waits on an insert or a disk. It opens the file (taking its exclusive
 * lock), sends back what it holds, then applies batches in the order they
 * come, one transaction each. A batch that fails is tried again after
 * `retryAfterMs`, and the batches behind it wait (a later one may update rows
 * the failed one inserts); on close, what is left is tried once more.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { Journal } from './journal.ts'
import type { PackedBatch } from './journal.ts'
import type { ThreadInit, ThreadReply, ThreadRequest } from './journal-writer.ts'

const port = parentPort
if (port == null) throw new Error('journal-thread.ts runs as a worker thread (JournalWriter starts it)')
const { file, retryAfterMs } = workerData as ThreadInit

/**
 * This thread yields to the task path: on Linux it runs at a lower priority (nice 10, this thread
 * only: /proc/thread-self names its id). On a busy machine it then gets the CPU the task path leaves;
 * with one batch in flight (JournalRecorder) its batches grow meanwhile and a task's changes merge
 * into fewer rows, so it writes less per task instead of taking CPU from the tasks.
 */
function lowerPriority (): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10)
  } catch {
    // not Linux, or not allowed: the thread runs at the process's priority
  }
}
lowerPriority()

function reply (message: ThreadReply): void {
  port!.postMessage(message)
}

const opened = Journal.tryOpen(file)
if (opened instanceof Journal) {
  const journal = opened
  reply({ type: 'opened', contents: journal.load(), nextRowid: journal.nextRowid() })
  const queue: PackedBatch[] = []
  let retry: NodeJS.Timeout | undefined
  let closing = false

  /** Writes queued batches in order; stops at one that fails (tried again later, or given up on when closing). */
  const drain = (): void => {
    let written = 0
    while (queue.length > 0) {
      try {
        journal.commit(queue[0]!)
      } catch (err) {
        if (written > 0) reply({ type: 'written', batches: written })
        reply({ type: 'failed', error: err })
        if (closing) break
        retry = setTimeout(() => { retry = undefined; drain() }, retryAfterMs)
        return
      }
      queue.shift()
      written++
    }
    if (written > 0) reply({ type: 'written', batches: written })
    if (!closing) return
    journal.close()
    reply({ type: 'closed', unwritten: queue.length })
    port.close()
  }

  port.on('message', (message: ThreadRequest) => {
    if (message.type === 'batch') queue.push(message.batch)
    else closing = true
    // while a failed batch waits for its retry, the others wait behind it (unless closing: then at once)
    if (retry != null && !closing) return
    clearTimeout(retry)
    retry = undefined
    drain()
  })
} else {
  reply({ type: 'refused', refusal: opened })
  port.close()
}
