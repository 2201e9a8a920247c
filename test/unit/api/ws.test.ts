import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { SignJWT } from 'jose'
import { startApiServer } from '../../../src/api/server.ts'
import { MAX_SUBSCRIPTIONS } from '../../../src/api/live/ws-session.ts'
import { stubNode } from './stub-node.ts'
import { apiSubmitter } from '../../../src/api/ownership.ts'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

async function open (options: { maxBufferedBytes?: number, maxStreams?: number, pingMs?: number } = {}, client: { autoPong?: boolean } = {}): Promise<{ socket: WebSocket, messages: any[], session: ReturnType<typeof stubNode>['session'], connect: (options?: { autoPong?: boolean }) => WebSocket }> {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-api-ws-'))
  cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const secret = 'w'.repeat(40)
  await writeFile(join(dir, 'secret'), secret)
  const { node, session } = stubNode()
  const server = await startApiServer(node, { port: 0, jwt: { secretFile: join(dir, 'secret') }, ...options })
  cleanup.push(server.close)
  const token = await new SignJWT({ scope: 'tasks:read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('r').setExpirationTime('5m').sign(new TextEncoder().encode(secret))
  const connect = (options = client): WebSocket => {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws`, { headers: { authorization: `Bearer ${token}` }, ...options })
    cleanup.push(() => { socket.terminate() })
    return socket
  }
  const socket = connect()
  const messages: any[] = []
  socket.on('message', data => { messages.push(JSON.parse(String(data))) })
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return { socket, messages, session, connect }
}

async function until (check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

describe('GET /v1/ws', () => {
  it('answers a bad request with an error and stays open; at most MAX_SUBSCRIPTIONS subscriptions', async () => {
    const { socket, messages, session } = await open()
    socket.send(JSON.stringify({ op: 'subscribe', task: 'P/t-none' }))
    socket.send(JSON.stringify({ op: 'subscribe', task: 'a', session: 'b' }))
    socket.send(JSON.stringify({ op: 'dance' }))
    await until(() => messages.filter(m => m.op === 'error').length === 3)
    expect(messages.map(m => m.code)).toEqual(['ERR_NOT_FOUND', 'ERR_VALIDATION', 'ERR_VALIDATION'])
    const tasks = Array.from({ length: MAX_SUBSCRIPTIONS + 1 }, () => session.submit('noop', null, { submitter: apiSubmitter('r') }))
    for (const task of tasks) socket.send(JSON.stringify({ op: 'subscribe', task: task.id }))
    await until(() => messages.filter(m => m.op === 'subscribed').length === MAX_SUBSCRIPTIONS && messages.filter(m => m.op === 'error').length === 4)
    expect(messages.at(-1)).toMatchObject({ op: 'error', code: 'ERR_VALIDATION', message: expect.stringMatching(/subscriptions/) })
    socket.send(JSON.stringify({ op: 'unsubscribe', task: tasks[0]!.id }))
    socket.send(JSON.stringify({ op: 'subscribe', task: tasks.at(-1)!.id }))
    await until(() => messages.filter(m => m.op === 'subscribed').length === MAX_SUBSCRIPTIONS + 1)
  })

  it('subscribing again to the same stream answers again and replays from the new `after`, with one subscription', async () => {
    const { socket, messages, session } = await open()
    const task = session.submit('noop', null, { submitter: apiSubmitter('r') })
    socket.send(JSON.stringify({ op: 'subscribe', task: task.id }))
    await until(() => messages.some(m => m.op === 'subscribed'))
    task.log('one')
    task.log('two')
    await until(() => messages.filter(m => m.op === 'event' && m.type === 'log').length === 2)
    const first = messages.find(m => m.op === 'event' && m.type === 'log')
    socket.send(JSON.stringify({ op: 'subscribe', task: task.id, after: first.seq }))
    await until(() => messages.filter(m => m.op === 'subscribed').length === 2 && messages.filter(m => m.op === 'event' && m.type === 'log').length === 3)
    // one subscription: a new line arrives once
    task.log('three')
    await until(() => messages.some(m => m.op === 'event' && m.data?.line === 'three'))
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(messages.filter(m => m.op === 'event' && m.data?.line === 'three')).toHaveLength(1)
    expect(messages.filter(m => m.op === 'event' && m.type === 'log').map(m => m.data.line)).toEqual(['one', 'two', 'two', 'three'])
  })

  it('resumes after `after` of the log `epoch` names; from the start with a gap when it names another (an earlier log of the stream)', async () => {
    const { socket, messages, session } = await open()
    const task = session.submit('noop', null, { submitter: apiSubmitter('r') })
    socket.send(JSON.stringify({ op: 'subscribe', task: task.id }))
    await until(() => messages.some(m => m.op === 'event'))
    const { epoch } = messages.find(m => m.op === 'subscribed')
    expect(messages.find(m => m.op === 'event')).toMatchObject({ epoch, seq: 1 })
    task.log('one')
    await until(() => messages.some(m => m.op === 'event' && m.type === 'log'))
    const from = messages.length
    socket.send(JSON.stringify({ op: 'subscribe', task: task.id, after: 1, epoch }))
    await until(() => messages.slice(from).some(m => m.op === 'event'))
    expect(messages.slice(from).filter(m => m.op !== 'event')).toEqual([{ op: 'subscribed', stream: 'task', id: task.id, epoch, gap: false }])
    expect(messages.slice(from).filter(m => m.op === 'event').map(m => m.seq)).toEqual([2])
    const again = messages.length
    socket.send(JSON.stringify({ op: 'subscribe', task: task.id, after: 1, epoch: epoch === 'ffffffff' ? 'eeeeeeee' : 'ffffffff' }))
    await until(() => messages.slice(again).filter(m => m.op === 'event').length === 2)
    expect(messages.slice(again).find(m => m.op === 'subscribed')).toMatchObject({ gap: true })
    expect(messages.slice(again).filter(m => m.op === 'event').map(m => m.seq)).toEqual([1, 2])
  })

  it('closes a socket that does not read once more than maxBufferedBytes wait unsent', async () => {
    const { socket, messages, session } = await open({ maxBufferedBytes: 64 * 1024 })
    const task = session.submit('noop', null, { submitter: apiSubmitter('r') })
    socket.send(JSON.stringify({ op: 'subscribe', task: task.id }))
    await until(() => messages.some(m => m.op === 'subscribed'))
    // the client stops reading its socket: what the server sends piles up in the kernel, then in the server
    const raw = (socket as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
    raw.pause()
    let closed = false
    socket.once('close', () => { closed = true })
    const LINES = 4096 // 16 MiB of 4 KiB lines, far beyond the socket buffers and the 64 KiB allowed
    for (let i = 0; i < LINES; i++) {
      task.log('z'.repeat(4096))
      if (i % 256 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    // reading again, the client gets what was sent before the server let go, then the close
    raw.resume()
    await until(() => closed)
    expect(messages.filter(m => m.op === 'event' && m.type === 'log').length).toBeLessThan(LINES)
  })

  it('closes a socket whose peer answers no ping (gone without a close: asleep, a NAT that forgot it), giving its slot back', async () => {
    // the one slot there is, held by a client that stopped answering
    const { socket, connect } = await open({ maxStreams: 1, pingMs: 200 }, { autoPong: false })
    let closed = false
    socket.once('close', () => { closed = true })
    await until(() => closed, 3000)
    const next = connect({ autoPong: true })
    next.on('message', () => {})
    const outcome = await new Promise<string>(resolve => { next.once('open', () => { resolve('open') }); next.once('close', code => { resolve(`closed ${code}`) }) })
    expect(outcome).toBe('open')
    // one that answers stays open
    let nextClosed = false
    next.once('close', () => { nextClosed = true })
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect(nextClosed).toBe(false)
  })
})
