import type { PipelineGrid } from '../../../src/pipeline/run.ts'
import type { DurableSink, DurableSource, SinkItem, SourceEntry } from '../../../src/connectors/types.ts'
import { FakeWorker } from './fake-worker.ts'
import type { Behaviour } from './fake-worker.ts'

/** In-memory durable connectors and a grid of fake workers, for runs over a durable source and sink. */
export function grid (behaviours: Record<string, Behaviour>): PipelineGrid {
  return { spawn: async options => new FakeWorker(options.stage, behaviours[options.stage]), capacity: () => 8 }
}

/** A queue in memory: entries `e1`…`eN`, acknowledgements recorded in order, closed once. */
export function memorySource (n: number): DurableSource<number> & { acked: string[], closes: number } {
  const source = {
    acked: [] as string[],
    closes: 0,
    async * entries (): AsyncGenerator<SourceEntry<number>> {
      for (let i = 1; i <= n; i++) yield { id: `e${i}`, value: i }
    },
    ack (id: string) { source.acked.push(id) },
    async close () { source.closes++ }
  }
  return source
}

/** A sink recording batches; `fail` makes a write reject (before it records anything). */
export function memorySink (fail: (items: SinkItem[]) => boolean = () => false): DurableSink & { items: SinkItem[], closes: number, writes: number } {
  const sink = {
    items: [] as SinkItem[],
    closes: 0,
    writes: 0,
    async write (items: SinkItem[]) {
      sink.writes++
      // a round trip, as to a real queue: results arriving meanwhile make the next batch
      await new Promise(resolve => setTimeout(resolve, 1))
      if (fail(items)) throw new Error('sink down')
      sink.items.push(...items)
    },
    async close () { sink.closes++ }
  }
  return sink
}
