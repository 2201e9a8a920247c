/**
 * The connector interface: what a pipeline needs from a durable queue at each
 * end. Redis Streams implements it (redis-stream-source.ts, redis-stream-sink.ts);
 * a Kafka or NATS JetStream adapter implements the same two shapes.
 *
 * The contract, end to end:
 * - the source hands out entries with a stable `id` (the queue's own: a stream
 *   entry id, a partition:offset, a JetStream sequence) and keeps each one
 *   pending in the queue until the pipeline calls `ack(id)`;
 * - items carry that id through the stages; a stage result that fans out to k
 *   items gives them `<id>.0` … `<id>.<k-1>` (a single result keeps the id), so
 *   a replayed entry produces the same ids again (given deterministic stages).
 *   An id may hold dots, but must not be another entry's id plus `.<digits>`
 *   (`a.1` beside `a`): it would name that entry's fan-out item;
 * - `ack(id)` comes only once the sink has resolved for every item the entry
 *   produced (or the stages dropped it, or it failed after its attempts and was
 *   reported through `item:failed`);
 * - the sink writes each item under its id idempotently, so an entry replayed
 *   after a crash writes once: exactly once by id. With a sink that is not
 *   idempotent the same pipeline is at-least-once;
 * - a durable sink sees the ids under the source's `scope` (`<scope><id>`): two
 *   queues number their entries alike (two Redis streams both have `1700000000000-0`),
 *   and one sink fed by both must not take the second for a replay of the first.
 *   Items from a source that is not durable are scoped by their run (`run-<random>/`).
 */

/** One entry of a durable source: its stable id and the value the first stage receives. */
export interface SourceEntry<T = unknown> {
  id: string
  value: T
}

/** A queue the pipeline pulls from, acknowledging what it finished. */
export interface DurableSource<T = unknown> {
  /** Entries in order; pulled only while the first stage has room. Ends when the source has no more (or never, for an endless one).
   * An id may contain dots, but not be another entry's id plus `.<digits>` (that names a fan-out item of it). */
  entries: (signal: AbortSignal) => AsyncIterable<SourceEntry<T>>
  /** Every item entry `id` produced is through: the queue may forget it. Never throws (failures are logged and the entry stays pending). */
  ack: (id: string) => void
  /** Flushes pending acknowledgements and releases connections; called once by the run when it ends. */
  close: () => Promise<void>
  /** What makes its ids unique among every source one sink may be fed from (the queue and the reader's
   * group, as `<stream>/<group>/`); the ids a durable sink sees are prefixed with it. Without one the
   * ids go as they are, and must be unique across such sources themselves. */
  readonly scope?: string
}

/** One item the sink writes, with the id derived from its source entry, under the source's scope. */
export interface SinkItem<T = unknown> {
  id: string
  value: T
}

/** An item of a batch the sink cannot take (its value cannot be encoded): that item fails alone. */
export interface SinkRefusal {
  /** The item's id, as the sink was given it. */
  id: string
  error: Error
}

/** A queue the pipeline writes to: idempotent by item id, in batches. */
export interface DurableSink<T = unknown> {
  /** Writes the items (resolves once they are durable); an item whose id was written before is skipped.
   * It may resolve with the items it refused (a value it cannot encode): each fails alone, reported by
   * `item:failed` and acknowledged as failed, while the others count as written. A rejection fails the run. */
  write: (items: Array<SinkItem<T>>) => Promise<void | SinkRefusal[]>
  /** Releases connections; called once by the run when it ends. */
  close: () => Promise<void>
}

export function isDurableSource (source: unknown): source is DurableSource {
  const s = source as Partial<DurableSource> | null
  return typeof s === 'object' && s != null && typeof s.entries === 'function' && typeof s.ack === 'function'
}

export function isDurableSink (sink: unknown): sink is DurableSink {
  const s = sink as Partial<DurableSink> | null
  return typeof s === 'object' && s != null && typeof s.write === 'function' && typeof s.close === 'function'
}

/** A fan-out suffix: `.<k>` for the k-th item, once per fan-out (`.2.1`). */
const FAN_OUT_SUFFIX = /(?:\.\d+)+$/

/**
 * The source entry an item id derives from (`1700000000000-0.2.1` -> `1700000000000-0`): the id
 * without its fan-out suffix, so a source id with dots of its own (`orders.eu:17`) survives. An entry
 * id that itself ends in `.<digits>` (`v1.2`) cannot be told from a fan-out here; the pipeline, which
 * knows which entries are inside, tells them apart (EntryAcks).
 */
export function entryOf (itemId: string): string {
  return itemId.replace(FAN_OUT_SUFFIX, '')
}

