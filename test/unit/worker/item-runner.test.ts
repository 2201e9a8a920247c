import { describe, it, expect } from 'vitest'
import { ItemRunner } from '../../../src/worker/item-runner.ts'
import type { WorkerOutput } from '../../../src/worker/ipc.ts'
import type { StageContext, TaskContext } from '../../../src/worker/stage.ts'

const CTX: StageContext = { stage: 's', workerId: 'w', env: {} }
const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('ItemRunner', () => {
  it('a stage item gets the shared context; a task its own signal and progress, and its start reported first', async () => {
    const out: WorkerOutput[] = []
    const seen: unknown[] = []
    const runner = new ItemRunner({ process: (item, ctx) => { seen.push(ctx); return item } }, CTX, 1, o => out.push(o))
    runner.accept([{ id: 0, item: 'a' }, { id: 1, item: 'b', task: true }])
    await turn()
    expect(seen[0]).toBe(CTX)
    expect((seen[1] as TaskContext).signal).toBeInstanceOf(AbortSignal)
    expect(out).toEqual([{ id: 0, value: 'a' }, { id: 1, notice: 'started' }, { id: 1, value: 'b' }])
  })

  it('a task item\'s ctx is its own: what setup stored on the worker\'s ctx is not on it (documented for itemTimeoutMs stages)', async () => {
    const ctx = { ...CTX } as StageContext & { client?: string }
    ctx.client = 'set up'
    const seen: Array<{ client?: string }> = []
    const runner = new ItemRunner({ process: (item, c) => { seen.push(c as { client?: string }); return item } }, ctx, 1, () => {})
    runner.accept([{ id: 0, item: 'a' }, { id: 1, item: 'b', task: true }])
    await turn()
    expect(seen.map(c => c.client)).toEqual(['set up', undefined])
  })

  it('coalesces progress within a turn (only the last value), and sends the last before the result', async () => {
    const out: WorkerOutput[] = []
    let release: () => void = () => {}
    const runner = new ItemRunner({
      process: async (_item, ctx) => {
        const { progress } = ctx as TaskContext
        for (let i = 0; i < 1000; i++) progress(i)
        await new Promise<void>(resolve => { release = resolve })
        progress('last')
        return 'done'
      }
    }, CTX, 1, o => out.push(o))
    runner.accept([{ id: 7, item: null, task: true }])
    await turn()
    await turn()
    expect(out).toEqual([{ id: 7, notice: 'started' }, { id: 7, notice: 'progress', value: 999 }])
    release()
    await turn()
    expect(out.slice(2)).toEqual([{ id: 7, notice: 'progress', value: 'last' }, { id: 7, value: 'done' }])
  })

  it('ctx.log lines leave in order before the result, cut to 4096 characters and at most 100 a second', async () => {
    const out: WorkerOutput[] = []
    const runner = new ItemRunner({
      process: (_item, ctx) => {
        const { log } = ctx as TaskContext
        log('one')
        log('x'.repeat(10_000))
        for (let i = 0; i < 500; i++) log(`flood ${i}`)
        return 'done'
      }
    }, CTX, 1, o => out.push(o))
    runner.accept([{ id: 3, item: null, task: true }])
    await turn()
    const lines = out.filter(o => 'notice' in o && o.notice === 'log').map(o => (o as { line: string }).line)
    expect(lines[0]).toBe('one')
    expect(lines[1]).toHaveLength(4096)
    // the budget is per second: 100 lines in all, the flood's first 98 among them, the rest dropped
    expect(lines).toHaveLength(100)
    expect(lines.at(-1)).toBe('flood 97')
    expect(out.at(-1)).toEqual({ id: 3, value: 'done' })
  })

  it('cancel aborts a running task\'s signal, and ends a task still waiting without running it', async () => {
    const out: WorkerOutput[] = []
    const ran: number[] = []
    const runner = new ItemRunner({
      process: async (item, ctx) => {
        ran.push(item as number)
        const { signal } = ctx as TaskContext
        await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })
      }
    }, CTX, 1, o => out.push(o))
    runner.accept([{ id: 1, item: 1, task: true }, { id: 2, item: 2, task: true }])
    await turn()
    runner.cancel([2, 1])
    await turn()
    expect(ran).toEqual([1])
    const errors = out.filter(o => 'error' in o).map(o => o.id)
    expect(errors.sort()).toEqual([1, 2])
    expect(out.find(o => o.id === 2 && 'error' in o)).toMatchObject({ error: { code: 'ERR_TASK_CANCELLED' } })
  })

  it('in a run of quick tasks only the first start is sent: the rest end before the turn does, their results say they ran', async () => {
    const out: WorkerOutput[] = []
    const runner = new ItemRunner({ process: item => item }, CTX, 1, o => out.push(o))
    runner.accept(Array.from({ length: 50 }, (_, id) => ({ id, item: id, task: true as const })))
    await turn()
    const notices = out.filter(o => 'notice' in o)
    expect(notices[0]).toEqual({ id: 0, notice: 'started' })
    // "quick" is a measured time (under a millisecond): a machine that stalls mid-run may send a start
    // or two more, never one per task
    expect(notices.length).toBeLessThanOrEqual(5)
    expect(out.filter(o => 'value' in o).map(o => o.id)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  it('a task started inside a quick run that outlasts the turn has its start sent at the end of the turn, before its progress and result', async () => {
    const out: WorkerOutput[] = []
    let release: () => void = () => {}
    const runner = new ItemRunner({
      process: async (item, ctx) => {
        if (item === 'slow') {
          await new Promise<void>(resolve => { release = resolve })
          ;(ctx as TaskContext).progress('half')
          await turn()
        }
        return item
      }
    }, CTX, 1, o => out.push(o))
    runner.accept([{ id: 1, item: 'quick', task: true }, { id: 2, item: 'slow', task: true }])
    // the turn the quick run happened in ends (the test's first turn was queued before it)
    await turn()
    await turn()
    expect(out).toEqual([{ id: 1, notice: 'started' }, { id: 1, value: 'quick' }, { id: 2, notice: 'started' }])
    release()
    await turn()
    await turn()
    expect(out.slice(3)).toEqual([{ id: 2, notice: 'progress', value: 'half' }, { id: 2, value: 'slow' }])
  })

  it('a start after an item that took QUICK_MS or more, or after the worker idled, is sent at once', async () => {
    const sent: Array<{ output: WorkerOutput, now?: boolean }> = []
    const runner = new ItemRunner({ process: item => { const until = performance.now() + (item as number); while (performance.now() < until) { /* busy */ } return item } }, CTX, 1, (output, now) => sent.push({ output, now }))
    runner.accept([{ id: 1, item: 2, task: true }, { id: 2, item: 0, task: true }])
    await turn()
    runner.accept([{ id: 3, item: 0, task: true }])
    await turn()
    expect(sent.filter(s => 'notice' in s.output)).toEqual([
      { output: { id: 1, notice: 'started' }, now: true },
      { output: { id: 2, notice: 'started' }, now: true },
      { output: { id: 3, notice: 'started' }, now: true }
    ])
  })

  it('sync and async results, thrown errors and rejections come back in order; a signal read after a cancel is aborted', async () => {
    const out: WorkerOutput[] = []
    let cancelNow: () => void = () => {}
    const seen: boolean[] = []
    const runner = new ItemRunner({
      process: (item, ctx) => {
        if (item === 'throw') throw new Error('sync')
        if (item === 'reject') return Promise.reject(new Error('async'))
        if (item === 'async') return Promise.resolve('later')
        if (item === 'cancelled') {
          cancelNow()
          const { signal } = ctx as TaskContext
          seen.push(signal.aborted, signal === (ctx as TaskContext).signal)
        }
        return item
      }
    }, CTX, 1, o => out.push(o))
    cancelNow = () => { runner.cancel([5]) }
    runner.accept([{ id: 1, item: 'sync', task: true }, { id: 2, item: 'throw', task: true }, { id: 3, item: 'async', task: true }, { id: 4, item: 'reject', task: true }, { id: 5, item: 'cancelled', task: true }])
    await turn()
    expect(out.flatMap(o => 'notice' in o ? [] : ['error' in o ? `${o.id}:${o.error.message}` : `${o.id}:${String(o.value)}`])).toEqual(['1:sync', '2:sync', '3:later', '4:async', '5:cancelled'])
    expect(seen).toEqual([true, true])
  })
})
