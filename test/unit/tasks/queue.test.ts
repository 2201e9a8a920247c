import { describe, it, expect } from 'vitest'
import { FairQueue } from '../../../src/tasks/queue.ts'
import { Task } from '../../../src/tasks/task.ts'

let n = 0
const task = (session: string, priority = 0): Task => new Task({ id: `t${n++}`, session, module: 'm', input: null, priority, maxRetries: 0 })
const drain = (q: FairQueue): string[] => { const out: string[] = []; for (let t = q.shift(); t != null; t = q.shift()) out.push(`${t.session}:${t.priority}:${t.id}`); return out }

describe('FairQueue', () => {
  it('runs higher priorities first and is FIFO within a priority', () => {
    const q = new FairQueue()
    const [a, b, c, d] = [task('s', 0), task('s', 5), task('s', 0), task('s', 5)]
    for (const t of [a, b, c, d]) q.push(t!)
    expect([q.shift(), q.shift(), q.shift(), q.shift()].map(t => t?.id)).toEqual([b!.id, d!.id, a!.id, c!.id])
    expect(q.shift()).toBeUndefined()
    expect(q.size).toBe(0)
  })

  it('takes turns between sessions, so a long queue cannot starve a short one', () => {
    const q = new FairQueue()
    for (let i = 0; i < 1000; i++) q.push(task('big'))
    for (let i = 0; i < 3; i++) q.push(task('small'))
    const first = Array.from({ length: 6 }, () => q.shift()!.session)
    expect(first).toEqual(['big', 'small', 'big', 'small', 'big', 'small'])
    expect(q.size).toBe(997)
  })

  it('skips tasks that stopped being queued (cancelled while waiting)', () => {
    const q = new FairQueue()
    const [a, b] = [task('s'), task('s')]
    q.push(a!)
    q.push(b!)
    a!.mark('cancelled')
    expect(q.shift()?.id).toBe(b!.id)
    expect(q.shift()).toBeUndefined()
    expect(q.size).toBe(0)
  })

  it('lets go of tasks that stopped being queued once they are half of what it holds, keeping order and turns', () => {
    const q = new FairQueue()
    const tasks = Array.from({ length: 100 }, (_, i) => task(['a', 'b', 'c'][i % 3]!, i % 2))
    for (const t of tasks) q.push(t)
    const cancelled = tasks.filter((_, i) => i % 4 !== 0)
    for (const t of cancelled) { t.mark('cancelled'); q.left() }
    // no worker ever takes them: they are not kept until their turn comes
    expect(q.size).toBe(25)
    // in the order a queue of only the tasks left would give: priorities, FIFO and turns kept
    const fresh = new FairQueue()
    for (const t of tasks.filter((_, i) => i % 4 === 0)) fresh.push(t)
    expect(drain(q)).toEqual(drain(fresh))
    expect(q.size).toBe(0)
  })

  it('a queue that empties and fills again keeps its priorities and turns (the emptied one is kept for its next task)', () => {
    const q = new FairQueue()
    q.push(task('a', 1))
    expect(q.shift()?.session).toBe('a')
    expect(q.shift()).toBeUndefined()
    const [low, high] = [task('a', 0), task('a', 2)]
    q.push(low!)
    q.push(high!)
    for (let i = 0; i < 2; i++) q.push(task('b'))
    expect(drain(q).map(s => s.split(':').slice(0, 2).join(':'))).toEqual(['a:2', 'b:0', 'a:0', 'b:0'])
    expect(q.size).toBe(0)
    q.push(task('b', 3))
    q.push(task('b', 1))
    expect(drain(q).map(s => s.split(':').slice(0, 2).join(':'))).toEqual(['b:3', 'b:1'])
  })

  it('keeps order across its compaction of a long queue', () => {
    const q = new FairQueue()
    const tasks = Array.from({ length: 5000 }, () => task('s'))
    for (const t of tasks) q.push(t)
    expect(drain(q).map(s => s.split(':')[2])).toEqual(tasks.map(t => t.id))
  })
})
