import { Worker } from 'node:worker_threads'
import { transferList } from './journal-batch.ts'
import type { PackedBatch } from './journal-batch.ts'
import type { JournalContents, Refusal } from './journal.ts'
import { JournalError } from '../errors.ts'

/** What the writer thread is started with. */
export interface ThreadInit {
  file: string
  retryAfterMs: number
}

/** Node's thread -> writer thread. */
export type ThreadRequest = { type: 'batch', batch: PackedBatch } | { type: 'close' }

/** Writer thread -> node's thread. */
export type ThreadReply =
  | { type: 'opened', contents: JournalContents, nextRowid: number }
  | { type: 'refused', refusal: Refusal }
  | { type: 'written', batches: number }
  | { type: 'failed', error: unknown }
  | { type: 'closed', unwritten: number }

export interface WriterEvents {
  /** Batches were written: there is room for more. */
  written: () => void
  /** A batch failed: it is tried again, the ones behind it wait. */
  failed: (err: unknown) => void
  /** The thread ended without being asked (it crashed): nothing more is written. */
  lost: (err: unknown) => void
}

/** What the recorder needs of its writer (JournalWriter; a unit test may give a stub of its own). */
export interface Writer {
  /** The row number for the first new task. */
  readonly nextRowid: number
  readonly inFlight: number
  write: (batch: PackedBatch) => void
  close: () => Promise<number>
  terminate: () => Promise<void>
}

/** Starts a writer on `file` and reads what it holds: JournalWriter.start. */
export type StartWriter = (file: string, events: WriterEvents, retryAfterMs?: number, signal?: AbortSignal) => Promise<{ writer: Writer, contents: JournalContents }>

/** After a failed write, the next try (the batch and those behind it stay queued). */
export const RETRY_AFTER_MS = 1000

/**
 * The node's side of the journal's writer thread (journal-thread.ts): it
 * posts batches and counts those not yet written, so the recorder can hold
 * back (and merge) changes while the disk is slow. The thread keeps the
 * process alive only while it has batches to write.
 */
export class JournalWriter implements Writer {
  readonly file: string
  readonly nextRowid: number
  private readonly worker: Worker
  private readonly events: WriterEvents
  private unwritten = 0
  private closing?: Promise<number>
  private ended = false

  private constructor (file: string, worker: Worker, nextRowid: number, events: WriterEvents) {
    this.file = file
    this.worker = worker
    this.nextRowid = nextRowid
    this.events = events
  }

  /**
   * Starts the writer thread, which opens the journal (creating it) and reads it; JournalError if it cannot be
   * used. Reading a large journal takes seconds: if `signal` aborts first, the thread is ended (its lock with it)
   * and the signal's reason thrown.
   */
  static async start (file: string, events: WriterEvents, retryAfterMs = RETRY_AFTER_MS, signal?: AbortSignal): Promise<{ writer: JournalWriter, contents: JournalContents }> {
    signal?.throwIfAborted()
    const init: ThreadInit = { file, retryAfterMs }
    const worker = new Worker(threadProgram(), { workerData: init, name: 'gridd task journal' })
    let onExit: (code: number) => void = () => {}
    let onError: (err: Error) => void = () => {}
    let onAbort: () => void = () => {}
    const aborted = Symbol('aborted')
    const first = await new Promise<ThreadReply | typeof aborted>((resolve, reject) => {
      onError = reject
      onExit = code => { reject(new Error(`the writer thread exited (code ${code})`)) }
      onAbort = () => { resolve(aborted) }
      worker.once('message', resolve)
      worker.once('error', onError)
      worker.once('exit', onExit)
      signal?.addEventListener('abort', onAbort, { once: true })
    }).catch((err: unknown) => ({ type: 'refused', refusal: { detail: 'cannot be opened', cause: err } }) as const)
    signal?.removeEventListener('abort', onAbort)
    // only these: a Worker follows its own listeners (newListener) to start its port
    worker.off('error', onError)
    worker.off('exit', onExit)
    if (first === aborted) {
      await worker.terminate()
      throw signal!.reason
    }
    if (first.type !== 'opened') {
      await worker.terminate()
      const refusal = first.type === 'refused' ? first.refusal : { detail: `unexpected reply ${first.type}` }
      throw new JournalError(file, refusal.detail, { cause: refusal.cause, advice: 'advice' in refusal ? refusal.advice : undefined })
    }
    const writer = new JournalWriter(file, worker, first.nextRowid, events)
    writer.listen()
    worker.unref()
    return { writer, contents: first.contents }
  }

  /** Batches posted and not yet written (or failed). */
  get inFlight (): number {
    return this.unwritten
  }

  /** Posts `batch` to be written (its buffers are moved to the thread: it is not to be used after). */
  write (batch: PackedBatch): void {
    if (this.ended) return
    if (this.unwritten++ === 0) this.worker.ref()
    this.worker.postMessage({ type: 'batch', batch } satisfies ThreadRequest, transferList(batch))
  }

  /** Waits for every batch posted to be written (each failing one tried once more), then closes the file; resolves to the batches not written. */
  async close (): Promise<number> {
    this.closing ??= (async () => {
      if (this.ended) return this.unwritten
      this.worker.ref()
      const closed = new Promise<number>(resolve => {
        this.worker.on('message', (reply: ThreadReply) => { if (reply.type === 'closed') resolve(reply.unwritten) })
        this.worker.once('exit', () => { resolve(this.unwritten) })
      })
      this.worker.postMessage({ type: 'close' } satisfies ThreadRequest)
      return await closed
    })()
    return await this.closing
  }

  /** Stops the thread now: what it had not committed is lost (SQLite rolls back a half-written transaction). */
  async terminate (): Promise<void> {
    this.ended = true
    await this.worker.terminate()
  }

  private listen (): void {
    this.worker.on('message', (reply: ThreadReply) => {
      if (reply.type === 'written') {
        this.unwritten -= reply.batches
        if (this.unwritten === 0 && this.closing == null) this.worker.unref()
        this.events.written()
      } else if (reply.type === 'failed') {
        this.events.failed(reply.error)
      }
    })
    this.worker.on('error', err => {
      this.ended = true
      this.events.lost(err)
    })
    this.worker.on('exit', code => {
      if (this.ended || this.closing != null) return
      this.ended = true
      this.events.lost(new Error(`the writer thread exited (code ${code})`))
    })
  }
}

/**
 * The writer thread's program: journal-thread.ts beside this file in the sources,
 * journal-thread.js beside it when built (dist/src/tasks/) and bundled (every
 * chunk sits in dist/bundle/, where scripts/bundle.ts puts the entry point too).
 */
function threadProgram (): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './journal-thread.ts' : './journal-thread.js', import.meta.url)
}
