import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Connection, Stream } from '@libp2p/interface'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encode } from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { TasksService } from '../../../src/tasks/service.ts'
import type { TasksReply } from '../../../src/tasks/protocol-schema.ts'
import { MAX_REQUEST_BYTES, TASKS_PROTOCOL, tasksReplySchema } from '../../../src/tasks/protocol-schema.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { ScriptedWorker } from './scripted-worker.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'
import { heldBytes } from '../transport/held-bytes.ts'

const log = pino({ level: 'silent' })
const MB = 1024 * 1024

/** What the tasks protocol lets a peer make the node buffer while it reads requests (real yamux streams, a client's certificate). */
describe('tasks requests being read: bounded per peer, nothing buffered after the request', () => {
  let client: PeerId
  let self: string
  let tasks: Tasks
  let dataDir: string
  let rejections: Rejections
  let answerForward: (reply: TasksReply) => void
  let svc: TasksService
  const held: Stream[] = []

  beforeEach(async () => {
    client = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    self = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const credentials = new PeerCredentials()
    credentials.record(client.toString(), { name: 'c', serial: '1', roles: new Set(['client']), notAfter: Number.MAX_SAFE_INTEGER })
    tasks = new Tasks(self, { spawn: async () => new ScriptedWorker(), capacity: (_r, limit) => limit, log }, { sizeEveryMs: 60_000 })
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-reading-'))
    rejections = new Rejections(log)
    const forwarded = new Promise<TasksReply>(resolve => { answerForward = resolve })
    svc = new TasksService({ tasks, self, credentials, dataDir, prepareDataDir: async () => {}, forward: async () => await forwarded, log, rejections })
  })

  afterEach(async () => {
    for (const stream of held.splice(0)) stream.abort(new Error('test over'))
    await tasks.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  /** A stream from the client to the handler: the client's end. */
  async function open (): Promise<Stream> {
    const [outbound, inbound] = await yamuxStreamPair()
    held.push(inbound, outbound)
    void svc.handler()(inbound, { remotePeer: client } as unknown as Connection)
    return outbound
  }

  /** The node's answer on `stream` (read by `json`, the one that wrote the request, if any), or 'none' if none came within `ms`. */
  async function answer (stream: Stream, ms: number, json = new JsonStream(stream)): Promise<TasksReply | 'none'> {
    return await json.read(tasksReplySchema, { signal: AbortSignal.timeout(ms) }).catch(() => 'none' as const)
  }

  it('a client that starts the largest request on every stream it may open is refused (ERR_RATE_LIMITED, counted) past eight of them; what it held is freed when those streams go', async () => {
    const started: Stream[] = []
    for (let i = 0; i < 12; i++) {
      const stream = await open()
      // a prefix announcing the largest request there may be, and the start of its body: never finished
      stream.send(encode(MAX_REQUEST_BYTES))
      stream.send(new Uint8Array(64 * 1024).fill(0x20))
      started.push(stream)
    }
    // the node's read deadline is 10 s: these answers come at once, or never
    const refused = await Promise.all(started.slice(8).map(async s => await answer(s, 5000)))
    expect(refused).toEqual(Array(4).fill(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) })))
    expect(rejections.counters()).toContainEqual(expect.objectContaining({ protocol: TASKS_PROTOCOL, reason: 'rate-limited', count: 4 }))

    // the client goes away from the eight being read: a request of the same size is read again
    for (const stream of started.slice(0, 8)) stream.abort(new Error('gone'))
    // the resets reach the node's side a turn or two later
    await new Promise(resolve => setTimeout(resolve, 300))
    const next = await open()
    const json = new JsonStream(next, { maxBytes: MAX_REQUEST_BYTES })
    await json.write({ op: 'session-list', pad: ' '.repeat(MAX_REQUEST_BYTES - 100) })
    expect(await answer(next, 5000, json)).toMatchObject({ ok: true })
  })

  it('what a peer sends after its request is dropped, not buffered while the answer is pending (it reset the stream once 16 MiB had come)', async () => {
    const stream = await open()
    // about an id another node owns: the answer waits on the forward, as a `wait` on its task would
    const json = new JsonStream(stream)
    await json.write({ op: 'get', id: `${client.toString()}/t-1` })
    const chunk = new Uint8Array(MB).fill(0x20)
    for (let i = 0; i < 24; i++) {
      if (!stream.send(chunk)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
    }
    // time for the node to take it all in, as it did
    await new Promise(resolve => setTimeout(resolve, 500))
    answerForward({ ok: true, id: 'relayed' })
    expect(await answer(stream, 5000, json)).toMatchObject({ ok: true, id: 'relayed' })
  })

  it('what came behind a request in the same frames is let go while its answer is pending: it stayed in the reader\'s buffer (16 streams: 16 MiB held)', async () => {
    const before = await heldBytes()
    const streams: Array<{ stream: Stream, json: JsonStream }> = []
    for (let i = 0; i < 16; i++) {
      const stream = await open()
      // about an id another node owns: the answer waits on the forward, as a `wait` on its task would
      const request = new TextEncoder().encode(JSON.stringify({ op: 'get', id: `${client.toString()}/t-${i}` }))
      stream.send(new Uint8ArrayList(encode(request.byteLength), request, new Uint8Array(MB).fill(0x20)))
      streams.push({ stream, json: new JsonStream(stream) })
    }
    // time for every request to be read and its stream's readable end closed
    await new Promise(resolve => setTimeout(resolve, 500))
    expect((await heldBytes()) - before).toBeLessThan(4 * MB)
    answerForward({ ok: true, id: 'relayed' })
    for (const { stream, json } of streams) expect(await answer(stream, 5000, json)).toMatchObject({ ok: true, id: 'relayed' })
  })
})
