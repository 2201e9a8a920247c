import { describe, it, expect, afterEach } from 'vitest'
import { get } from 'node:http'
import type { IncomingMessage } from 'node:http'
import Fastify from 'fastify'
import { EventLog } from '../../../src/api/live/event-log.ts'
import { serveEvents } from '../../../src/api/live/sse.ts'
import type { LiveEvent } from '../../../src/api/live/event-log.ts'
import { LiveHub } from '../../../src/api/live/hub.ts'
import { HookVerifier, signHook } from '../../../src/api/hooks/signature.ts'
import { parseHookSpec } from '../../../src/api/hooks/hook-config.ts'
import { ConfigError, HookSignatureError, TooManyStreamsError } from '../../../src/errors.ts'
import { stubNode } from './stub-node.ts'
import { tokenServer } from './token-server.ts'
import { apiSubmitter } from '../../../src/api/ownership.ts'
import { readEvents } from '../../integration/helpers/api-client.ts'

describe('EventLog', () => {
  it('numbers events, replays those after an id then follows, keeps the last `capacity`, and says when a resume has a hole', () => {
    const log = new EventLog('t', 3)
    for (let i = 1; i <= 5; i++) log.append('progress', { value: i })
    expect(log.resume(0)).toEqual({ after: 0, gap: true })
    expect(log.resume(2)).toEqual({ after: 2, gap: false })
    expect(log.resume(5)).toEqual({ after: 5, gap: false })
    // an id this log never gave (an earlier log's): from the start, with a gap
    expect(log.resume(9)).toEqual({ after: 0, gap: true })
    const seen: LiveEvent[] = []
    let ended = 0
    const unsubscribe = log.follow(3, e => seen.push(e), () => { ended++ })
    log.append('result', { value: 'done' })
    expect(seen.map(e => e.seq)).toEqual([4, 5, 6])
    log.end()
    expect(ended).toBe(1)
    unsubscribe()
    // an ended log replays and ends at once
    const late: number[] = []
    log.follow(5, e => late.push(e.seq), () => { ended++ })
    expect(late).toEqual([6])
    expect(ended).toBe(2)
  })
})

describe('LiveHub', () => {
  it('follows a task from its current status to its result; at most maxFollowed logs, finished ones dropped first', () => {
    const { session } = stubNode()
    const hub = new LiveHub({ replayEvents: 100, replayTtlMs: 60_000, maxFollowed: 2 })
    const a = session.submit('noop', 1)
    const log = hub.task(a)
    a.mark('dispatched'); a.progress(0.5); a.log('hello'); a.mark('running'); a.complete(42)
    const seen: LiveEvent[] = []
    log.follow(0, e => seen.push(e), () => {})
    expect(seen.map(e => e.type)).toEqual(['status', 'status', 'progress', 'log', 'status', 'status', 'result'])
    expect(seen.at(-1)!.data).toEqual({ task: a.id, value: 42 })
    const b = session.submit('noop', 2)
    const c = session.submit('noop', 3)
    expect(hub.task(b)).not.toBe(hub.task(c))
    // a's log (ended) made room for c: b's is still the same object
    expect(hub.task(b)).toBe(hub.task(b))
    expect(hub.task(a)).not.toBe(log)
    hub.close()
  })

  it('sends a failed task\'s error as GET /v1/tasks/:id shows it: name, message, code, never the stack', async () => {
    const { node, session } = stubNode()
    const hub = new LiveHub({ replayEvents: 100, replayTtlMs: 60_000, maxFollowed: 16 })
    const failing = session.submit('noop', 1)
    const taskLog = hub.task(failing)
    const other = node.tasks.session({ name: 's' })
    const sessionLog = hub.session(other)
    const inSession = other.submit('noop', 2)
    const error = { name: 'TypeError', message: 'boom', code: 'ERR_X', stack: 'TypeError: boom\n    at /home/worker/secret/task.ts:3:9', retryable: false }
    failing.mark('failed', error)
    inSession.mark('failed', error)
    await new Promise(resolve => setImmediate(resolve))
    const errors: LiveEvent[] = []
    taskLog.follow(0, e => { if (e.type === 'error') errors.push(e) }, () => {})
    sessionLog.follow(0, e => { if (e.type === 'error') errors.push(e) }, () => {})
    expect(errors.map(e => e.data)).toEqual([
      { task: failing.id, status: 'failed', error: { name: 'TypeError', message: 'boom', code: 'ERR_X' } },
      { task: inSession.id, status: 'failed', error: { name: 'TypeError', message: 'boom', code: 'ERR_X' } }
    ])
    hub.close()
  })

  it('never lets go of a log being read to make room: another nobody reads goes, and past that a reader is refused 503', () => {
    const { node, session } = stubNode()
    const hub = new LiveHub({ replayEvents: 100, replayTtlMs: 60_000, maxFollowed: 2 })
    const followed = node.tasks.session({ name: 's' })
    let sessionEnded = false
    hub.session(followed).follow(0, () => {}, () => { sessionEnded = true })
    const a = followed.submit('noop', 1)
    const b = followed.submit('noop', 2)
    // a reader of a: its log and the session's are both read now
    let aEnded = false
    hub.task(a).follow(0, () => {}, () => { aEnded = true })
    expect(() => hub.task(b)).toThrow(TooManyStreamsError)
    expect(sessionEnded).toBe(false)
    expect(aEnded).toBe(false)
    // an ended log goes first
    a.complete('done')
    expect(aEnded).toBe(true)
    const bLog = hub.task(b)
    // then one nobody reads (b's), never the session's being read
    const c = followed.submit('noop', 3)
    hub.task(c).follow(0, () => {}, () => {})
    expect(bLog.ended).toBe(true)
    expect(sessionEnded).toBe(false)
    expect(() => hub.task(session.submit('noop', 4))).toThrow(TooManyStreamsError)
    hub.close()
  })

  it('loses no event of a burst larger than a session reader\'s buffer: 12,000 tasks cancelled at once, 12,000 errors', async () => {
    const { node } = stubNode()
    const hub = new LiveHub({ replayEvents: 100, replayTtlMs: 60_000, maxFollowed: 16 })
    const burst = node.tasks.session({ name: 'burst' })
    for (let i = 0; i < 12_000; i++) burst.submit('noop', i)
    const types = new Map<string, number>()
    const seqs: number[] = []
    let ended = false
    hub.session(burst).follow(0, e => { types.set(e.type, (types.get(e.type) ?? 0) + 1); seqs.push(e.seq) }, () => { ended = true })
    burst.cancel()
    await burst.done
    await new Promise(resolve => setImmediate(resolve))
    expect(ended).toBe(true)
    expect(types.get('error')).toBe(12_000)
    expect(types.get('status')).toBe(12_000)
    expect(seqs.every((seq, i) => seq === i + 1)).toBe(true)
    hub.close()
  })

  it('holds nothing of a session once it is done: its log stays for replay, the session (its results) goes', async () => {
    const { node } = stubNode()
    const hub = new LiveHub({ replayEvents: 100, replayTtlMs: 60_000, maxFollowed: 4096 })
    const logs: EventLog[] = []
    for (let i = 0; i < 200; i++) {
      // opened through the API (followed from its first task), one task with its result, closed
      const session = node.tasks.session({ name: `s${i}` })
      logs.push(hub.session(session))
      session.submit('noop', i).complete('x'.repeat(1000))
      session.close()
      await session.done
    }
    await new Promise(resolve => setImmediate(resolve))
    expect(logs.every(log => log.ended)).toBe(true)
    // the replay buffers stay (replayTtlMs); what let go of each session's event stream does not, nor the session with it
    expect((hub as unknown as { detach: Map<string, unknown> }).detach.size).toBe(0)
    hub.close()
  })
})

describe('webhook signatures', () => {
  const secret = new TextEncoder().encode('s3cret-s3cret-s3cret')
  const body = Buffer.from('{"a":1}')

  it('accepts a signed call once within the window; refuses a replay, a stale or future timestamp, another body or secret', () => {
    const verifier = new HookVerifier(300_000)
    const now = 1_800_000_000_000
    const ts = String(now / 1000)
    const signature = signHook(secret, ts, body)
    verifier.verify(secret, { signature, timestamp: ts }, body, now)
    expect(() => { verifier.verify(secret, { signature, timestamp: ts }, body, now + 1000) }).toThrow(/replay/)
    const old = String(now / 1000 - 301)
    expect(() => { verifier.verify(secret, { signature: signHook(secret, old, body), timestamp: old }, body, now) }).toThrow(HookSignatureError)
    const ahead = String(now / 1000 + 301)
    expect(() => { verifier.verify(secret, { signature: signHook(secret, ahead, body), timestamp: ahead }, body, now) }).toThrow(HookSignatureError)
    expect(() => { verifier.verify(secret, { signature, timestamp: ts }, Buffer.from('{"a":2}'), now) }).toThrow(/does not match/)
    expect(() => { verifier.verify(secret, { signature: signHook('other', ts, body), timestamp: ts }, body, now) }).toThrow(/does not match/)
    expect(() => { verifier.verify(secret, { signature: 'sha256=00', timestamp: ts }, body, now) }).toThrow(/does not match/)
  })

  it('parses --api-hook name=task:secretFile[:wait]', () => {
    expect(parseHookSpec('deploy=build:/etc/hook.secret')).toEqual({ name: 'deploy', task: 'build', secretFile: '/etc/hook.secret', wait: false })
    expect(parseHookSpec('sq=square:./s:wait')).toEqual({ name: 'sq', task: 'square', secretFile: './s', wait: true })
    expect(() => parseHookSpec('nohook')).toThrow(ConfigError)
    expect(() => parseHookSpec('a b=t:/s')).toThrow(ConfigError)
  })
})

describe('an event stream reader that does not read', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

  it('is dropped once more than maxBufferedBytes wait unsent', async () => {
    const { server, session, token: tokenOf } = await tokenServer(cleanup, { maxBufferedBytes: 64 * 1024 })
    const task = session.submit('noop', null, { submitter: apiSubmitter('r') })
    const token = await tokenOf('tasks:read', 'r')
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${server.url}/v1/tasks/${encodeURIComponent(task.id)}/events`, { headers: { authorization: `Bearer ${token}` } }, resolve).on('error', reject)
    })
    expect(res.statusCode).toBe(200)
    res.pause()
    const closed = new Promise<void>(resolve => { res.once('close', resolve) })
    // far more than the socket buffers hold: 4 KiB lines, 64 MiB in all, until the server lets go
    let sent = 0
    const line = 'z'.repeat(4096)
    let done = false
    void closed.then(() => { done = true })
    while (!done && sent < 16_384) {
      for (let i = 0; i < 256; i++) task.log(line)
      sent += 256
      await new Promise(resolve => setImmediate(resolve))
    }
    await closed
    expect(sent).toBeLessThan(16_384)
  })
})

describe('an event stream whose client left before it was served', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

  it('gives its slot back at once, though its close event came during the async work before it (token verification)', async () => {
    // the real server's auth hook awaits the token's verification; here a hook awaits a gate the test opens
    let proceed!: () => void
    const gate = new Promise<void>(resolve => { proceed = resolve })
    let arrived!: (client: { gone: Promise<void> }) => void
    const inHook = new Promise<{ gone: Promise<void> }>(resolve => { arrived = resolve })
    let releases = 0
    let served = false
    const app = Fastify()
    cleanup.push(async () => { await app.close() })
    app.addHook('onRequest', async (_request, reply) => {
      arrived({ gone: new Promise(resolve => { reply.raw.once('close', resolve) }) })
      await gate
    })
    app.get('/events', async (request, reply) => {
      served = true
      return serveEvents(request, reply, new EventLog('t', 10), { maxBufferedBytes: 1024, release: () => { releases++ } })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const client = get(`http://127.0.0.1:${port}/events`)
    client.on('error', () => {})
    const { gone } = await inHook
    client.destroy()
    await gone
    proceed()
    const deadline = Date.now() + 2000
    while (releases === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
    expect(served).toBe(true)
    expect(releases).toBe(1)
  })
})

describe('the live streams of one subject', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

  it('are bounded: one token opening streams in a loop cannot take every slot and lock the others out', async () => {
    const { server, session, token } = await tokenServer(cleanup, { maxStreams: 8, maxStreamsPerSubject: 3 })
    // each reads a task of its own (a client sees no other's)
    const tasks = new Map(['mallory', 'alice'].map(subject => [subject, session.submit('noop', null, { submitter: apiSubmitter(subject) })]))
    const tokenOf = async (subject: string): Promise<string> => await token('tasks:read', subject)
    const follow = async (token: string, subject = 'mallory'): Promise<IncomingMessage> => await new Promise((resolve, reject) => {
      get(`${server.url}/v1/tasks/${encodeURIComponent(tasks.get(subject)!.id)}/events`, { headers: { authorization: `Bearer ${token}` } }, res => { cleanup.push(() => { res.destroy() }); resolve(res) }).on('error', reject)
    })
    const mallory = await tokenOf('mallory')
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await follow(mallory)).statusCode ?? 0)
    expect(statuses).toEqual([200, 200, 200, 503, 503, 503, 503, 503])
    expect((await follow(await tokenOf('alice'), 'alice')).statusCode).toBe(200)
    // the refusal says whose streams are too many
    const refused = await follow(mallory)
    const body = await new Promise<string>(resolve => { let text = ''; refused.on('data', (chunk: Buffer) => { text += String(chunk) }).on('end', () => { resolve(text) }) })
    expect(JSON.parse(body)).toMatchObject({ status: 503, code: 'ERR_TOO_MANY_STREAMS', detail: expect.stringMatching(/mallory/) })
  })
})

describe('a session followed over SSE while its client submits', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

  it('keeps its stream past maxFollowed: the tasks nobody reads make room, not the session being read', async () => {
    const { server, token: tokenOf } = await tokenServer(cleanup, { maxFollowed: 2 })
    const headers = { authorization: `Bearer ${await tokenOf('tasks:read tasks:submit tasks:cancel', 'c')}`, 'content-type': 'application/json' }
    const opened = (await (await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers, body: '{}' })).json()) as { id: string }
    const url = `${server.url}/v1/sessions/${encodeURIComponent(opened.id)}`
    const events = await fetch(`${url}/events`, { headers })
    expect(events.status).toBe(200)
    const body = events.text()
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ task: 'noop', session: opened.id }) })
      expect(res.status).toBe(202)
    }
    expect((await fetch(url, { method: 'DELETE', headers: { authorization: headers.authorization } })).status).toBe(202)
    const types = [...(await body).matchAll(/^event: (\w+)$/gm)].map(m => m[1])
    // both tasks' ends, then the session's last counts: the stream was not cut when they were submitted
    expect(types.filter(t => t === 'error')).toHaveLength(2)
    expect(types.at(-1)).toBe('counts')
  })
})

describe('a reader resuming with the id of an earlier log of its stream (the node restarted, or forgot the log)', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

  it('gets a gap, then every event of the new log with the result: the old id is not taken for one of the new log', async () => {
    const { session } = stubNode()
    const task = session.submit('noop', 1)
    const hubs = new Map(['a', 'b'].map(name => [name, new LiveHub({ replayEvents: 100, replayTtlMs: 60_000, maxFollowed: 16 })]))
    cleanup.push(() => { for (const hub of hubs.values()) hub.close() })
    const app = Fastify()
    cleanup.push(async () => { await app.close() })
    app.get<{ Params: { hub: string } }>('/:hub', async (request, reply) => serveEvents(request, reply, hubs.get(request.params.hub)!.task(task), { maxBufferedBytes: 1 << 20, release: () => {} }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const url = (hub: string): string => `http://127.0.0.1:${port}/${hub}`
    // hub a's log: queued (1), dispatched (2); the reader has both, then hub a is gone
    hubs.get('a')!.task(task)
    task.mark('dispatched')
    const first = await readEvents(url('a'), {}, events => events.length >= 2)
    expect(first.events.map(e => e.event)).toEqual(['status', 'status'])
    hubs.get('a')!.close()
    task.mark('running')
    task.complete(7)
    // hub b's log of the same task numbers from 1 again: completed (1), result (2)
    const resumed = await readEvents(url('b'), { 'last-event-id': first.events[1]!.id! })
    expect(resumed.status).toBe(200)
    expect(resumed.events.map(e => e.event)).toEqual(['gap', 'status', 'result'])
    expect(resumed.events.at(-1)!.data).toEqual({ task: task.id, value: 7 })
    // an id of hub b's own log resumes right after it, as ever
    const again = await readEvents(url('b'), { 'last-event-id': resumed.events[1]!.id! })
    expect(again.events.map(e => e.event)).toEqual(['result'])
    expect((await readEvents(url('b'), { 'last-event-id': resumed.events[2]!.id! })).status).toBe(204)
  })
})
