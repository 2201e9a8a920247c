import type { JsonStream } from '../transport/json-stream.ts'
import { MAX_WORKER_MESSAGE_BYTES } from '../wire/spawn-protocol.ts'
import type { WorkerDown } from '../wire/spawn-protocol.ts'
import type { WorkerExit } from '../worker/ipc.ts'
import type { Logger } from '../logger.ts'
import { Batcher } from '../wire/batcher.ts'
import { encodeBatch } from '../wire/batch-encoding.ts'
import type { BatchShape, Misfit } from '../wire/batch-encoding.ts'
import { toWireError } from '../wire/wire-error.ts'
import { ProtocolError } from '../errors.ts'
import type { RelayedResult } from './relayed-item.ts'

/**
 * Results written and not yet taken by the requester, at most (four of the largest messages). Writes queue
 * in the stream whatever the peer reads: one that pauses its stream (no yamux window) while it goes on
 * sending items would otherwise have the agent hold every result of them.
 */
export const MAX_UNSENT_RESULT_BYTES = 4 * MAX_WORKER_MESSAGE_BYTES

const RESULTS: BatchShape = { prefix: '{"type":"results","results":', suffix: '}', what: 'result', maxBytes: MAX_WORKER_MESSAGE_BYTES }

/**
 * The agent's writing side of one worker stream: results batched per turn and written in order, in
 * messages under the stream's limit, then the worker's exit notice. A result JSON cannot encode (a stage
 * returned a BigInt: worker IPC carried it) or too large for a message goes back as that item's error;
 * a task notice that cannot go is dropped, logged. A write that fails
 * aborts the stream, so the requester sees it end and runs its items elsewhere rather than wait forever.
 */
export class RelayWriter {
  private readonly json: JsonStream
  private readonly log: Logger
  private readonly results = new Batcher<RelayedResult>(batch => { this.writeResults(batch) })
  private readonly misfit: Misfit<RelayedResult>

  constructor (json: JsonStream, log: Logger) {
    this.json = json
    this.log = log
    this.misfit = (entry, err) => {
      if (!('notice' in entry)) return { n: entry.n, error: toWireError(err) }
      this.log.debug({ err, n: entry.n }, 'dropped a task notice the worker stream cannot carry')
      return undefined
    }
  }

  /** An item's outcome or a task's notice, sent with the others of this turn. */
  push (result: RelayedResult): void {
    this.results.push(result)
  }

  /** The worker ended: what is batched goes first, then the exit notice; then the stream closes. */
  exit (exit: WorkerExit): void {
    this.results.drain()
    this.write(this.json.write({ type: 'exit', exit } satisfies WorkerDown))
    void this.json.close()
  }

  private writeResults (batch: RelayedResult[]): void {
    for (const message of encodeBatch(batch, RESULTS, this.misfit)) this.write(this.json.writeEncoded(message))
  }

  private write (written: Promise<void>): void {
    written.catch((err: unknown) => {
      this.log.debug({ err }, 'writing to a worker stream failed: it is aborted')
      this.json.stream.abort(err instanceof Error ? err : new Error(String(err)))
    })
    // the write queued its bytes at once: a requester that leaves this much unread is cut (its worker goes with it)
    const unsent = this.json.stream.writeBufferLength
    if (unsent > MAX_UNSENT_RESULT_BYTES) this.json.stream.abort(new ProtocolError(`${unsent} bytes of results unread on a worker stream, more than the ${MAX_UNSENT_RESULT_BYTES} allowed`))
  }
}
