import { describe, it, expect } from 'vitest'
import { getEventListeners } from 'node:events'
import { Task } from '../../../src/tasks/task.ts'
import type { TaskObserver } from '../../../src/tasks/task.ts'
import { ERR_CONFIG, ERR_TASK_LOST } from '../../../src/errors.ts'

let n = 0
const task = (): Task => new Task({ id: `t${n++}`, session: 's', module: '/m.ts', input: n, priority: 0, maxRetries: 0 })

/** The waits the handle holds for callers (whenSettled's); a test-only look inside. */
const settleWaits = (t: Task): number => (t as unknown as { settleListeners?: Set<unknown> }).settleListeners?.size ?? 0

/** An observer that records cancel requests (what `cancel()` asks of the session). */
function observed (t: Task): string[] {
  const cancels: string[] = []
  const ignore = (): void => {}
  const observer: TaskObserver = { status: ignore, progress: ignore, log: ignore, cancel: (_t, reason) => { cancels.push(reason) } }
  t.observe(observer)
  return cancels
}

describe('TaskHandle.result({ signal })', () => {
  it('abort rejects the wait with the signal\'s reason, leaves the task running and no listener behind', async () => {
    const t = task()
    const cancels = observed(t)
    t.mark('running')
    const controller = new AbortController()
    const waiting = t.result({ signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    expect(settleWaits(t)).toBe(1)
    const reason = new Error('gave up waiting')
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    // only the wait ended: the task was not cancelled (cancel() does that)
    expect(t.status).toBe('running')
    expect(cancels).toEqual([])
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(settleWaits(t)).toBe(0)
    // the task still ends and a later wait gets its value
    t.complete(42)
    await expect(t.result()).resolves.toBe(42)
  })

  it('a wait that settles first resolves with the value and lets go of the signal', async () => {
    const t = task()
    const controller = new AbortController()
    const waiting = t.result({ signal: controller.signal })
    t.mark('running')
    t.complete('done')
    await expect(waiting).resolves.toBe('done')
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(settleWaits(t)).toBe(0)
    // aborting afterwards changes nothing
    controller.abort()
    await expect(t.result({ signal: new AbortController().signal })).resolves.toBe('done')
  })

  it('a failed task rejects the wait with its typed error', async () => {
    const t = task()
    const waiting = t.result({ signal: new AbortController().signal })
    t.mark('failed', { name: 'Error', message: 'lost', code: ERR_TASK_LOST })
    await expect(waiting).rejects.toMatchObject({ code: ERR_TASK_LOST })
  })

  it('an already-aborted signal rejects at once; a waiter loop with short timeouts piles up nothing', async () => {
    const t = task()
    const reason = new Error('already')
    await expect(t.result({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    for (let i = 0; i < 20; i++) {
      await expect(t.result({ signal: AbortSignal.timeout(1) })).rejects.toMatchObject({ name: 'TimeoutError' })
    }
    expect(settleWaits(t)).toBe(0)
    expect(t.status).toBe('queued')
  })

  it('refuses what is no AbortSignal, or an unknown option, with a rejection (a caller\'s .catch() sees it)', async () => {
    const t = task()
    await expect(t.result({ signal: {} as AbortSignal })).rejects.toMatchObject({ code: ERR_CONFIG, option: 'result.signal' })
    await expect(t.result({ sginal: 1 } as never)).rejects.toMatchObject({ code: ERR_CONFIG, option: 'result.sginal' })
  })
})
