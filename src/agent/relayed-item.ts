import type { ItemListener } from '../wire/pending-item.ts'
import type { WorkerDown } from '../wire/spawn-protocol.ts'
import { isWorkerExit, toWireError } from '../wire/wire-error.ts'
import { boundedLogLine } from '../wire/task-log.ts'
import type { InFlightBatch } from '../wire/bytes-in-flight.ts'

/** One entry of a `results` message back to the requester. */
export type RelayedResult = Extract<WorkerDown, { type: 'results' }>['results'][number]

/** One worker stream's side of the relay: its tasks by the requester's number, and where answers and notices go. */
export interface Relay {
  tasks: Map<number, RelayedItem>
  /** An outcome (the item's room on the stream is free again). */
  answer: (result: RelayedResult) => void
  /** An item the worker's exit answers: its room is free, nothing is sent for it. */
  unanswered: () => void
  notice: (result: RelayedResult) => void
}

/**
 * An item the agent relays from a requester's stream to its local worker:
 * what the worker reports goes back under the requester's number. One object
 * per item, in place of an abort controller, options and five closures.
 */
export class RelayedItem implements ItemListener {
  private readonly relay: Relay
  private readonly n: number
  private readonly task: boolean
  /** The message it came in: its bytes count against the stream until its last item is answered. */
  private readonly batch: InFlightBatch

  constructor (relay: Relay, n: number, task: boolean, batch: InFlightBatch) {
    this.relay = relay
    this.n = n
    this.task = task
    this.batch = batch
  }

  started (): void { this.relay.notice({ n: this.n, notice: 'started' }) }
  progress (value: unknown): void { this.relay.notice({ n: this.n, notice: 'progress', value }) }
  log (line: string): void { this.relay.notice({ n: this.n, notice: 'log', line: boundedLogLine(line) }) }

  done (value: unknown): void {
    if (this.task) this.relay.tasks.delete(this.n)
    this.batch.answered()
    this.relay.answer({ n: this.n, value })
  }

  failed (err: Error): void {
    if (this.task) this.relay.tasks.delete(this.n)
    this.batch.answered()
    // its worker exited: the exit notice that follows fails it at the requester as a lost worker's item.
    // Sent as an error result it would arrive as a RemoteError, which reads as the item's own failure
    if (isWorkerExit(err)) this.relay.unanswered()
    else this.relay.answer({ n: this.n, error: toWireError(err) })
  }
}
