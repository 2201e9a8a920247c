import { describe, it, expect } from 'vitest'
import { getEventListeners } from 'node:events'
import { Session } from '../../../src/tasks/session.ts'
import { Task } from '../../../src/tasks/task.ts'
import type { SessionEvent } from '../../../src/tasks/types.ts'
import { ERR_CONFIG, ERR_SESSION_CLOSED, TaskCancelledError } from '../../../src/errors.ts'
import { toWireError } from '../../../src/wire/wire-error.ts'

function session (): { session: Session, queued: Task[] } {
  const queued: Task[] = []
  const s = new Session('owner', { name: 'batch', maxRetries: 2, priority: 1 }, {
    enqueue: task => { queued.push(task) },
    cancel: (task, reason) => { task.mark('cancelled', toWireError(new TaskCancelledError(task.id, reason))) }
  })
  return { session: s, queued }
}

describe('Session', () => {
  it('refuses options the tasks protocol and the CLI refuse, naming them (ConfigError), for the session and for a task', () => {
    const host = { enqueue: () => {}, cancel: () => {} }
    expect(() => new Session('owner', { priority: Number.NaN }, host)).toThrow(expect.objectContaining({ code: ERR_CONFIG, message: expect.stringContaining('session.priority') }))
    expect(() => new Session('owner', { maxRetries: 1.5 }, host)).toThrow(expect.objectContaining({ code: ERR_CONFIG, message: expect.stringContaining('session.maxRetries') }))
    // one restored from the journal (given its id) is taken as written: a start never fails on an older gridd's values
    expect(new Session('owner', { maxRetries: 1.5 }, host, 'owner/s-0123456789ab').id).toBe('owner/s-0123456789ab')
    const { session: s, queued } = session()
    expect(() => s.submit('m.ts', 1, { timeoutMs: -5 })).toThrow(expect.objectContaining({ code: ERR_CONFIG, message: expect.stringContaining('task.timeoutMs') }))
    expect(() => s.submit('m.ts', 1, { priority: 2e6 })).toThrow(expect.objectContaining({ code: ERR_CONFIG, message: expect.stringContaining('task.priority') }))
    expect(queued).toEqual([])
    expect(s.submit('m.ts', 1, { priority: -3, maxRetries: 0, timeoutMs: 1000 }).info()).toMatchObject({ priority: -3 })
  })

  it('refuses, at the call, a module that is not a path, URL or name, and options that are not an object of known keys', () => {
    const host = { enqueue: () => {}, cancel: () => {} }
    const configError = (option: string): unknown => expect.objectContaining({ code: ERR_CONFIG, option })
    expect(() => new Session('owner', { nmae: 'x' } as never, host)).toThrow(configError('session.nmae'))
    expect(() => new Session('owner', 5 as never, host)).toThrow(configError('session'))
    const { session: s, queued } = session()
    expect(() => s.submit(5 as never, 1)).toThrow(configError('module'))
    expect(() => s.submit('', 1)).toThrow(configError('module'))
    expect(() => s.submit('m.ts', 1, { timout: 5 } as never)).toThrow(configError('task.timout'))
    expect(() => s.submit('m.ts', 1, 5 as never)).toThrow(configError('task'))
    expect(() => s.submit('m.ts', 1, { resources: { cpu: -1 } })).toThrow(configError('task.resources.cpu'))
    expect(() => s.submit('m.ts', 1, { signal: {} as never })).toThrow(configError('task.signal'))
    expect(queued).toEqual([])
    expect(s.submit(new URL('file:///srv/m.ts'), 1).module).toBe('file:///srv/m.ts')
    expect(() => s.tasks({ status: 'complete' as never })).toThrow(configError('status'))
    // a misspelt filter listed every task; a URL of another scheme was taken for a relative path
    expect(() => s.tasks({ state: 'failed' } as never)).toThrow(configError('state'))
    expect(() => s.submit(new URL('https://example.com/m.ts'), 1)).toThrow(configError('module'))
    // the same URL as a string too
    expect(() => s.submit('https://example.com/m.ts', 1)).toThrow(configError('module'))
    expect(s.submit('file:///srv/m.ts', 1).module).toBe('file:///srv/m.ts')
    expect(queued).toHaveLength(2)
  })

  it('a handle listener that throws is reported to the host, not thrown into whoever reported the change: the task still settles', async () => {
    const threw: string[] = []
    const s = new Session('owner', {}, { enqueue: () => {}, cancel: () => {}, listenerThrew: (_task, event) => { threw.push(event) } })
    const task = s.submit('m.ts', 1)
    task.on('status', () => { throw new Error('app listener threw') })
    task.on('progress', () => { throw new Error('app listener threw') })
    expect(() => { task.progress('half') }).not.toThrow()
    expect(() => { task.complete(42) }).not.toThrow()
    await expect(task.result()).resolves.toBe(42)
    expect(threw).toEqual(['progress', 'status'])
  })

  it('events() takes a signal: aborting it ends a reader waiting on a quiet session, and leaves no listener on the signal', async () => {
    const { session: s } = session()
    const abort = new AbortController()
    const listeners = (): number => getEventListeners(abort.signal, 'abort').length
    const events = s.events({ signal: abort.signal })
    expect(listeners()).toBe(1)
    const next = events.next()
    abort.abort()
    await expect(next).resolves.toEqual({ value: undefined, done: true })
    expect(listeners()).toBe(0)
    const ended = s.events({ signal: abort.signal })
    await expect(ended.next()).resolves.toEqual({ value: undefined, done: true })
    const other = new AbortController()
    const read = s.events({ signal: other.signal })
    await read.return!()
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0)
  })

  it('gives tasks its defaults unless a task overrides them, and names the owner in ids', () => {
    const { session: s } = session()
    const a = s.submit('m.ts', 1)
    const b = s.submit('m.ts', 2, { priority: 9, maxRetries: 0 })
    expect([a.priority, a.maxRetries, b.priority, b.maxRetries]).toEqual([1, 2, 9, 0])
    expect(a.id).toMatch(/^owner\/t-[0-9a-f]{17,}$/)
    expect(s.id).toMatch(/^owner\/s-[0-9a-f]{12}$/)
  })

  it('counts tasks by status, retries included, and lists them by status', () => {
    const { session: s, queued } = session()
    for (let i = 0; i < 4; i++) s.submit('m.ts', i)
    const [a, b, c] = queued
    a!.mark('dispatched'); a!.mark('running'); a!.complete('ok')
    b!.mark('dispatched'); b!.mark('queued'); b!.mark('dispatched')
    c!.cancel()
    expect(s.counts()).toEqual({ queued: 1, dispatched: 1, running: 0, completed: 1, failed: 0, timeout: 0, cancelled: 1, retries: 1 })
    expect(s.tasks({ status: 'completed' }).map(t => t.id)).toEqual([a!.id])
    expect(s.tasks().length).toBe(4)
  })

  it('keeps a final task as a record: a lookup by id gives a settled handle with its outcome, until it is forgotten', async () => {
    const { session: s, queued } = session()
    s.submit('m.ts', 1)
    s.submit('m.ts', 2)
    const [a, b] = queued
    a!.mark('dispatched'); a!.mark('running'); a!.progress(0.5); a!.complete({ out: 1 })
    b!.mark('dispatched'); b!.mark('failed', { name: 'RangeError', message: 'no good' })
    const again = s.get(a!.id)!
    expect(again).not.toBe(a)
    expect(again.final).toBe(true)
    expect(await again.result()).toEqual({ out: 1 })
    expect(again.info()).toEqual(a!.info())
    await expect(s.get(b!.id)!.result()).rejects.toMatchObject({ message: expect.stringContaining('no good') })
    expect(s.tasks({ status: 'failed' }).map(t => t.id)).toEqual([b!.id])
    expect(s.forgetFinal(Date.now() + 1)).toBe(2)
    expect(s.get(a!.id)).toBeUndefined()
    expect(s.counts().completed).toBe(1)
  })

  it('finds a final task by its exact id only: another random part, a padded number or another owner finds nothing', () => {
    const { session: s, queued } = session()
    for (let i = 0; i < 18; i++) s.submit('m.ts', i)
    for (const t of queued) { t.mark('dispatched'); t.complete(t.input) }
    const last = queued[17]!
    expect(last.id.endsWith('11')).toBe(true)
    expect(s.get(last.id)?.value).toBe(17)
    const nonce = last.id.slice('owner/t-'.length, 'owner/t-'.length + 16)
    const other = nonce.replace(/^./, c => c === '0' ? '1' : '0')
    for (const id of [`owner/t-${other}11`, `owner/t-${nonce}011`, `owner/t-${nonce}0x11`, `other/t-${nonce}11`, `owner/t-${nonce}`]) expect(s.get(id)).toBeUndefined()
    expect(s.tasks().map(t => t.id)).toEqual(queued.map(t => t.id))
  })

  it('keeps thousands of tasks by number, ended in any order, and forgets them all', () => {
    const { session: s, queued } = session()
    for (let i = 0; i < 2500; i++) s.submit('m.ts', i)
    for (const t of [...queued].reverse()) { t.mark('dispatched'); t.complete(t.input) }
    expect([0, 1023, 1024, 2499].map(i => s.get(queued[i]!.id)?.value)).toEqual([0, 1023, 1024, 2499])
    expect(s.tasks().map(t => t.id)).toEqual(queued.map(t => t.id))
    expect(s.forgetFinal(Date.now() + 1)).toBe(2500)
    expect(s.get(queued[1024]!.id)).toBeUndefined()
    const later = s.submit('m.ts', 'later')
    later.mark('dispatched'); later.complete('done')
    expect(s.get(later.id)?.value).toBe('done')
    expect(s.tasks().length).toBe(1)
  })

  it('keeps a final task it did not number (resumed from the journal) by its id', () => {
    const { session: s } = session()
    const resumed = new Task({ id: 'owner/t-0123456789abcdef', session: s.id, module: 'm.ts', input: 1, priority: 0, maxRetries: 0, restored: { status: 'completed', attempts: 1, endedAt: Date.now(), value: 'v' } })
    s.adopt(resumed)
    expect(s.get(resumed.id)?.value).toBe('v')
    expect(s.tasks().map(t => t.id)).toEqual([resumed.id])
    expect(s.forgetFinal(Date.now() + 1)).toBe(1)
    expect(s.get(resumed.id)).toBeUndefined()
  })

  it('events() tells a reader that fell more than 10,000 behind how many it lost: a gap event in their place', async () => {
    const { session: s } = session()
    for (let i = 0; i < 12_000; i++) s.submit('m.ts')
    const events = s.events()
    s.cancel()
    const seen: SessionEvent[] = []
    for await (const e of events) seen.push(e)
    expect(seen[0]).toEqual({ type: 'gap', dropped: 2000 })
    expect(seen.slice(1).filter(e => e.type === 'status')).toHaveLength(10_000)
  })

  it('events() yields status changes and progress, and ends once the closed session is done', async () => {
    const { session: s, queued } = session()
    s.submit('m.ts')
    const events = s.events()
    const seen: SessionEvent[] = []
    const reading = (async () => { for await (const e of events) seen.push(e) })()
    const t = queued[0]!
    t.mark('dispatched'); t.progress(50); t.mark('running'); t.complete(7)
    s.close()
    await reading
    await s.done
    expect(seen.map(e => e.type === 'status' ? e.status : e.type === 'progress' ? `progress ${String(e.value)}` : e.type === 'log' ? e.line : e.type)).toEqual(['dispatched', 'progress 50', 'running', 'completed'])
    // asked for once the session is done: it ends at once
    const late: SessionEvent[] = []
    for await (const e of s.events()) late.push(e)
    expect(late).toEqual([])
  })

  it('close refuses new tasks (ERR_SESSION_CLOSED); cancel ends every open task and settles done', async () => {
    const { session: s } = session()
    const a = s.submit('m.ts')
    s.cancel()
    expect(() => s.submit('m.ts')).toThrow(expect.objectContaining({ code: ERR_SESSION_CLOSED }))
    await s.done
    await expect(a.result()).rejects.toMatchObject({ code: 'ERR_TASK_CANCELLED' })
  })
})
