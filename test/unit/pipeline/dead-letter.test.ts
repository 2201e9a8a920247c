import { describe, it, expect } from 'vitest'
import { PipelineRun } from '../../../src/pipeline/run.ts'
import type { FailedItem, PipelineInit } from '../../../src/pipeline/types.ts'
import { MAX_PENDING_DEAD_LETTERS } from '../../../src/pipeline/dead-letters.ts'
import { ConfigError, DeadLetterError, ERR_DEAD_LETTER } from '../../../src/errors.ts'
import { silent } from './fake-worker.ts'
import { grid, memorySink, memorySource } from './durable-fakes.ts'

const failSeven = grid({ maybe: n => { if (n === 7) throw new Error('bad item'); return n } })
const init = (n: number, deadLetter: PipelineInit['deadLetter']): PipelineInit =>
  ({ source: memorySource(n), stages: [{ name: 'maybe', module: 'm.mjs' }], sink: memorySink(), equalize: false, maxAttempts: 1, deadLetter })
const source = (run: PipelineInit): ReturnType<typeof memorySource> => run.source as ReturnType<typeof memorySource>

describe('deadLetter: an item that failed for good is acknowledged only once the dead-letter store has it', () => {
  it('acks the failed item\'s entry only after deadLetter resolved (an item:failed listener could not hold the ack back)', async () => {
    const stored: FailedItem[] = []
    const order: string[] = []
    const options = init(20, async failure => {
      order.push(`handed ${failure.id}`)
      await new Promise(resolve => setTimeout(resolve, 50))
      stored.push(failure)
      order.push(`stored ${failure.id}`)
    })
    const acked = source(options)
    const ack = acked.ack.bind(acked)
    acked.ack = id => { if (id === 'e7') order.push('acked e7'); ack(id) }
    const run = new PipelineRun('dl', options, failSeven, silent)
    const summary = await run.done
    expect(order).toEqual(['handed e7', 'stored e7', 'acked e7'])
    expect(stored).toMatchObject([{ id: 'e7', stage: 'maybe', item: 7, attempts: 1, error: { message: 'bad item' } }])
    expect(acked.acked).toHaveLength(20)
    expect(summary).toMatchObject({ in: 20, failed: 1 })
  })

  it('a deadLetter that rejects (or throws) fails the run with DeadLetterError, its entry left pending to be read again', async () => {
    for (const deadLetter of [async () => { throw new Error('store down') }, () => { throw new Error('store down') }]) {
      const options = init(20, deadLetter)
      const run = new PipelineRun('dl', options, failSeven, silent)
      const err = await run.done.then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(DeadLetterError)
      expect(err).toMatchObject({ code: ERR_DEAD_LETTER, itemId: 'e7', cause: { message: 'store down' } })
      expect(source(options).acked).not.toContain('e7')
    }
  })

  it('a deadLetter that never answers holds at most MAX_PENDING_DEAD_LETTERS items, then fails the run', async () => {
    const failAll = grid({ maybe: () => { throw new Error('bad item') } })
    const options = init(MAX_PENDING_DEAD_LETTERS + 10, async () => await new Promise(() => {}))
    const run = new PipelineRun('dl', options, failAll, silent)
    const err = await run.done.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(DeadLetterError)
    expect((err as Error).message).toContain(`${MAX_PENDING_DEAD_LETTERS} items are still waiting`)
    expect(source(options).acked).toHaveLength(0)
  })

  it('a DurableSink as deadLetter: each failure written to it by the source\'s id, before the ack, and the sink closed with the run', async () => {
    const dlq = memorySink()
    const options = init(20, dlq)
    const summary = await new PipelineRun('dl', options, failSeven, silent).done
    expect(dlq.items).toMatchObject([{ id: 'e7', value: { id: 'e7', stage: 'maybe', item: 7, attempts: 1, error: { message: 'bad item' } } }])
    expect(source(options).acked).toHaveLength(20)
    expect(dlq.closes).toBe(1)
    expect(summary.failed).toBe(1)
  })

  it('a failure whose item the dead-letter sink cannot encode is written without it, saying why (not a run failing on every relaunch)', async () => {
    const written: unknown[] = []
    const dlq = {
      async write (items: Array<{ id: string, value: unknown }>) {
        try { JSON.stringify(items[0]!.value) } catch (err) { return [{ id: items[0]!.id, error: err as Error }] }
        written.push(items[0]!.value)
      },
      async close () {}
    }
    const bigints = grid({ maybe: () => { throw new Error('bad item') } })
    const options: PipelineInit = { source: [10n], stages: [{ name: 'maybe', module: 'm.mjs' }], sink: () => {}, equalize: false, maxAttempts: 1, deadLetter: dlq }
    await new PipelineRun('dl', options, bigints, silent).done
    expect(written).toMatchObject([{ item: null, itemNotWritten: expect.stringContaining('BigInt'), error: { message: 'bad item' } }])
  })

  it('is refused at the call unless a function or a DurableSink', () => {
    expect(() => new PipelineRun('dl', init(1, 'dlq' as never), failSeven, silent)).toThrow(ConfigError)
    expect(() => new PipelineRun('dl', init(1, { write: async () => {} } as never), failSeven, silent)).toThrow(ConfigError)
  })
})
