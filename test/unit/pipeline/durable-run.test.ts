import { describe, it, expect } from 'vitest'
import { getEventListeners } from 'node:events'
import { PipelineRun } from '../../../src/pipeline/run.ts'
import type { PipelineGrid } from '../../../src/pipeline/run.ts'
import type { FailedItem, PipelineInit } from '../../../src/pipeline/types.ts'
import { encodeItems } from '../../../src/connectors/sink-encoding.ts'
import type { DurableSink, DurableSource, SinkItem, SourceEntry } from '../../../src/connectors/types.ts'
import { EntryAcks } from '../../../src/pipeline/entry-acks.ts'
import { silent } from './fake-worker.ts'
import { grid, memorySink, memorySource } from './durable-fakes.ts'

const start = (init: PipelineInit, g: PipelineGrid): PipelineRun => new PipelineRun('durable', init, g, silent)

describe('a pipeline with a durable source and sink', () => {
  it('carries stable ids (fan-out k -> <id>.k) to the sink in batches, and acks each entry once, after all its items, drops included', async () => {
    const source = memorySource(300)
    const sink = memorySink()
    // stage 1 fans every 3rd entry out to two, drops every 5th; stage 2 keeps one result per item
    const run = start({
      source,
      stages: [
        { name: 'split', module: 's.mjs' },
        { name: 'inc', module: 'i.mjs' }
      ],
      sink,
      equalize: false
    }, grid({ split: n => (n as number) % 5 === 0 ? undefined : (n as number) % 3 === 0 ? [n, n] : n, inc: n => (n as number) + 1000 }))
    const summary = await run.done
    const expectedIds = Array.from({ length: 300 }, (_, i) => i + 1).flatMap(n => n % 5 === 0 ? [] : n % 3 === 0 ? [`e${n}.0`, `e${n}.1`] : [`e${n}`])
    expect(sink.items.map(i => i.id).sort()).toEqual(expectedIds.sort())
    expect(sink.items.find(i => i.id === 'e3.1')?.value).toBe(1003)
    expect(sink.writes).toBeLessThan(sink.items.length)
    expect(source.acked.length).toBe(300)
    expect(new Set(source.acked).size).toBe(300)
    expect(summary).toMatchObject({ in: 300, out: expectedIds.length })
    expect([source.closes, sink.closes]).toEqual([1, 1])
  })

  it('a durable sink sees ids under the source\'s scope, and under the run\'s own for a source that is not durable', async () => {
    // two queues number their entries alike: one sink fed by both must tell them apart
    const sink = memorySink()
    const scoped = Object.assign(memorySource(3), { scope: 'in-a/g/' })
    await start({ source: scoped, stages: [{ name: 'inc', module: 'i.mjs' }], sink, equalize: false }, grid({ inc: n => n })).done
    await start({ source: memorySource(3), stages: [{ name: 'inc', module: 'i.mjs' }], sink, equalize: false }, grid({ inc: n => n })).done
    expect(sink.items.map(i => i.id)).toEqual(['in-a/g/e1', 'in-a/g/e2', 'in-a/g/e3', 'e1', 'e2', 'e3'])
    // a plain iterable numbers its items 1, 2, … in every run: each run has a scope of its own
    const sinks = [memorySink(), memorySink()]
    await Promise.all([[10, 20], [30, 40]].map(async (values, i) => await start({ source: values, stages: [{ name: 'inc', module: 'i.mjs' }], sink: sinks[i]!, equalize: false }, grid({ inc: n => n })).done))
    const ids = sinks.map(sink => sink.items.map(i => i.id))
    for (const run of ids) expect(run).toEqual([expect.stringMatching(/^run-[0-9a-f]{12}\/1$/), expect.stringMatching(/^run-[0-9a-f]{12}\/2$/)])
    expect(ids[0]![0]!.split('/')[0]).not.toBe(ids[1]![0]!.split('/')[0])
  })

  it('a run that ended leaves no listener on the signal it was given (a deployment relaunches under one signal)', async () => {
    const abort = new AbortController()
    for (let i = 0; i < 3; i++) await start({ source: memorySource(2), stages: [{ name: 'inc', module: 'i.mjs' }], sink: memorySink(), equalize: false, signal: abort.signal }, grid({ inc: n => n })).done
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0)
    const running = start({ source: memorySource(2), stages: [{ name: 'inc', module: 'i.mjs' }], sink: memorySink(), equalize: false, signal: abort.signal }, grid({ inc: () => new Promise(() => {}) }))
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1)
    abort.abort()
    await expect(running.done).rejects.toThrow()
  })

  it('a source whose own ids hold dots gets each entry acked once, by the id it gave, fan-out included', async () => {
    const ids = ['a.b:1', 'orders.eu:2', 'v1.2', 'x.0.y']
    const source = Object.assign(memorySource(0), {
      async * entries (): AsyncGenerator<SourceEntry<number>> { for (const [i, id] of ids.entries()) yield { id, value: i } }
    })
    const sink = memorySink()
    // entry 1 fans out to two, the others keep one result
    const run = start({ source, stages: [{ name: 'split', module: 's.mjs' }], sink, equalize: false }, grid({ split: n => n === 1 ? [n, n] : n }))
    await run.done
    expect(sink.items.map(i => i.id).sort()).toEqual(['a.b:1', 'orders.eu:2.0', 'orders.eu:2.1', 'v1.2', 'x.0.y'])
    expect(source.acked.sort()).toEqual([...ids].sort())
  })

  it('an entry is acked only once the sink has resolved for every item it fanned out to', async () => {
    const source = memorySource(1)
    let releaseSecond: () => void = () => {}
    const secondWritten = new Promise<void>(resolve => { releaseSecond = resolve })
    const written: string[] = []
    const sink: DurableSink = {
      async write (items) {
        for (const item of items) {
          // hold the batch holding e1.1 until the test has looked
          if (item.id === 'e1.1') await secondWritten
          written.push(item.id)
        }
      },
      async close () {}
    }
    const run = start({ source, stages: [{ name: 'split', module: 's.mjs' }], sink, equalize: false }, grid({ split: n => [n, n, n] }))
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(written).toEqual(['e1.0'])
    expect(source.acked).toEqual([])
    releaseSecond()
    await run.done
    expect(source.acked).toEqual(['e1'])
  })

  it('an item that fails its attempts is reported and its entry acked (not redelivered forever)', async () => {
    const source = memorySource(20)
    const sink = memorySink()
    const failed: string[] = []
    const run = start({ source, stages: [{ name: 'maybe', module: 'm.mjs' }], sink, equalize: false }, grid({ maybe: n => { if (n === 7) throw new Error('bad item'); return n } }))
    run.on('item:failed', f => failed.push(f.id))
    await run.done
    expect(failed).toEqual(['e7'])
    expect(source.acked.length).toBe(20)
    expect(sink.items.map(i => i.id)).not.toContain('e7')
  })

  it('an item fed with run.push() neither acks the entry whose id its number matches nor is taken by the sink for another run\'s', async () => {
    // a queue numbering its entries 1, 2, … (a JetStream sequence); the run numbers pushed items 1, 2, … too
    const numbered = (held: Promise<unknown>): DurableSource<string> & { acked: string[] } => Object.assign(memorySource(0), {
      scope: 'q/',
      async * entries (): AsyncGenerator<SourceEntry<string>> { await held; yield { id: '1', value: 'entry' } }
    }) as unknown as DurableSource<string> & { acked: string[] }
    let releaseEntry: () => void = () => {}
    let releaseResult: () => void = () => {}
    const entryRead = new Promise<void>(resolve => { releaseEntry = resolve })
    const resultHeld = new Promise<void>(resolve => { releaseResult = resolve })
    const source = numbered(entryRead)
    const sink = memorySink()
    const behaviour = (v: unknown): unknown => v === 'entry' ? resultHeld.then(() => v) : v
    const run = start({ source, stages: [{ name: 's', module: 's.mjs' }], sink, equalize: false }, grid({ s: behaviour }))
    await run.push('pushed')
    releaseEntry()
    while (sink.items.length < 1) await new Promise(resolve => setTimeout(resolve, 5))
    // the pushed item is written; entry 1's own item is still in its stage: acking entry 1 now loses it on a crash
    expect(source.acked).toEqual([])
    releaseResult()
    await run.done
    expect(source.acked).toEqual(['1'])
    // a second run pushes its own first item: a new item, not a replay of the first run's
    const second = numbered(Promise.resolve())
    const run2 = start({ source: second, stages: [{ name: 's', module: 's.mjs' }], sink, equalize: false }, grid({ s: (v: unknown) => v }))
    await run2.push('pushed again')
    await run2.done
    const pushedIds = sink.items.filter(i => String(i.value).startsWith('pushed')).map(i => i.id)
    expect(pushedIds).toHaveLength(2)
    expect(new Set(pushedIds).size).toBe(2)
  })

  it('a result the durable sink cannot encode fails that item alone; the rest of its batch is written and every entry acked', async () => {
    // a local worker's structured-clone IPC carries 1n to the owner intact; JSON.stringify throws on it
    const source = memorySource(6)
    const written: SinkItem[] = []
    // encodes as redisStreamSink does (the same helper), with a custom encode that refuses 4
    const sink: DurableSink = {
      async write (items) {
        await new Promise(resolve => setTimeout(resolve, 1))
        const { encoded, refused } = encodeItems(items, value => { if (value === 4) throw new Error('no fours'); return JSON.stringify(value) })
        written.push(...encoded.map(e => ({ id: e.id, value: e.text })))
        return refused
      },
      async close () {}
    }
    const run = start({ source, stages: [{ name: 'sum', module: 's.mjs' }], sink, equalize: false }, grid({ sum: n => n === 2 ? { v: 1n } : n }))
    const failed: FailedItem[] = []
    run.on('item:failed', f => failed.push(f))
    const summary = await run.done
    expect(summary).toMatchObject({ in: 6, out: 4, failed: 2 })
    expect(failed.map(f => [f.id, f.stage, f.error.code])).toEqual([['e2', 'sum', 'ERR_NOT_SERIALIZABLE'], ['e4', 'sum', 'ERR_NOT_SERIALIZABLE']])
    expect(failed[1]!.error.message).toContain('no fours')
    expect(written.map(i => i.id)).toEqual(['e1', 'e3', 'e5', 'e6'])
    // acknowledged as failed items are: a run reading the entries again would fail them again, for ever
    expect(source.acked.sort()).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6'])
  })

  it('a sink failure fails the run and acks nothing of what it did not write; the connectors are closed', async () => {
    const source = memorySource(100)
    const sink = memorySink(items => items.some(i => i.id === 'e50'))
    const run = start({ source, stages: [{ name: 'echo', module: 'e.mjs' }], sink, equalize: false }, grid({}))
    await expect(run.done).rejects.toThrow('sink down')
    const written = new Set(sink.items.map(i => i.id))
    expect(written.has('e50')).toBe(false)
    // every acked entry was written first; the failed batch's entries are not acked
    expect(source.acked.every(id => written.has(id))).toBe(true)
    expect(source.acked).not.toContain('e50')
    expect([source.closes, sink.closes]).toEqual([1, 1])
  })
})

describe('EntryAcks', () => {
  it('keeps a counter per entry in flight and none after: fan-out, nested fan-out and drops', () => {
    const acked: string[] = []
    const acks = new EntryAcks(id => acked.push(id))
    acks.admitted('1-0')
    acks.resulted('1-0', 2)
    acks.resulted('1-0.1', 3)
    acks.resulted('1-0.0', 0)
    expect(acks.size).toBe(1)
    acks.settled('1-0.1.0')
    acks.settled('1-0.1.2')
    expect(acked).toEqual([])
    acks.settled('1-0.1.1')
    expect(acked).toEqual(['1-0'])
    expect(acks.size).toBe(0)
    // items that never came from the source (run.push()) acknowledge nothing
    acks.resulted('7', 3)
    acks.settled('7')
    expect(acked).toEqual(['1-0'])
  })

  it('finds the entry of an item by lookup, not by the first dot: ids with dots of their own', () => {
    const acked: string[] = []
    const acks = new EntryAcks(id => acked.push(id))
    acks.admitted('a.b:1')
    acks.admitted('v1.2')
    acks.resulted('a.b:1', 2)
    acks.settled('a.b:1.0')
    acks.settled('a.b:1.1')
    acks.settled('v1.2')
    expect(acked).toEqual(['a.b:1', 'v1.2'])
    expect(acks.size).toBe(0)
  })
})
