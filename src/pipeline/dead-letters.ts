import { DeadLetterError } from '../errors.ts'
import { isDurableSink } from '../connectors/types.ts'
import type { DurableSink } from '../connectors/types.ts'
import type { FailedItem } from './types.ts'

/**
 * Most failed items handed to `deadLetter` and not settled yet. Each holds its item; past it the run
 * fails, loudly, rather than holding items without bound behind a dead-letter store that stopped
 * answering (its calls run side by side: at a failure rate of r items/s and a store answering in
 * t s, about r × t are pending).
 */
export const MAX_PENDING_DEAD_LETTERS = 1024

export interface DeadLetterEvents {
  /** The hook resolved for this item: it may be acknowledged and counted done. */
  settled: (itemId: string) => void
  /** The hook threw or rejected, or fell too far behind: the run fails with it. */
  failed: (err: DeadLetterError) => void
}

/**
 * Hands each item that failed for good to the run's `deadLetter`, and settles the item only once it
 * resolved: an item:failed listener cannot hold the acknowledgement back, so a dead-letter write made
 * from that event raced the XACK, and an owner that died between the two lost the item.
 */
export class DeadLetters {
  private pending = 0
  private readonly pipeline: string
  private readonly hand: (failure: FailedItem) => unknown
  private readonly events: DeadLetterEvents

  /** `to`: a function, or a DurableSink the failures are written to under `scope` + the item's id (idempotently, like results). */
  constructor (pipeline: string, to: ((failure: FailedItem) => unknown) | DurableSink<unknown>, scope: string, events: DeadLetterEvents) {
    this.pipeline = pipeline
    this.hand = isDurableSink(to) ? async failure => { await writeFailure(to, scope + failure.id, failure) } : to
    this.events = events
  }

  take (failure: FailedItem): void {
    if (this.pending >= MAX_PENDING_DEAD_LETTERS) {
      this.events.failed(new DeadLetterError(this.pipeline, failure.id, `${MAX_PENDING_DEAD_LETTERS} items are still waiting for it`))
      return
    }
    this.pending++
    // called as a promise, so a hook that throws synchronously fails the run the same way
    void Promise.resolve().then(() => this.hand(failure)).then(
      () => { this.pending--; this.events.settled(failure.id) },
      (err: unknown) => { this.pending--; this.events.failed(new DeadLetterError(this.pipeline, failure.id, 'it threw', { cause: err })) }
    )
  }
}

/**
 * Writes one failure to a dead-letter sink. An item the sink cannot encode (a `10n` that failed the item
 * for just that reason) is written without it, saying why, rather than failing the run on every relaunch.
 */
async function writeFailure (sink: DurableSink<unknown>, id: string, failure: FailedItem): Promise<void> {
  const refused = await sink.write([{ id, value: failure }])
  if (!Array.isArray(refused) || refused.length === 0) return
  const reason = refused[0]!.error.message
  const again = await sink.write([{ id, value: { ...failure, item: null, itemNotWritten: reason } }])
  if (Array.isArray(again) && again.length > 0) throw again[0]!.error
}
