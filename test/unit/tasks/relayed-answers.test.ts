import { it, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import * as v from 'valibot'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { encode } from 'uint8-varint'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { TasksService } from '../../../src/tasks/service.ts'
import { ownerForwarder } from '../../../src/tasks/routing.ts'
import { MAX_REPLY_BYTES, TASKS_PROTOCOL, tasksReplySchema } from '../../../src/tasks/protocol-schema.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { ScriptedWorker } from './scripted-worker.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'

const log = pino({ level: 'silent' })

/** How the member, as the owner its ids name, answers the forward it is sent as the `n`th (from 0), on its end of the stream. */
type Owner = (stream: Stream, n: number) => Promise<void>

/**
 * A node that relays a member's requests to the member itself (the owner its ids name), answered by `owner`;
 * sends the member's requests about `count` ids, one by one: what those after the first were answered within 5 s.
 */
async function relayingToItself (owner: Owner, count: number): Promise<{ answers: unknown[], rejections: Rejections }> {
  const member: PeerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const credentials = new PeerCredentials()
  credentials.record(member.toString(), { name: 'm', serial: '1', roles: new Set(['member']), notAfter: Number.MAX_SAFE_INTEGER })
  const tasks = new Tasks(self, { spawn: async () => new ScriptedWorker(), capacity: (_r, limit) => limit, log }, { sizeEveryMs: 60_000 })
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-relayed-'))
  const rejections = new Rejections(log)
  const held: Stream[] = []
  let forwards = 0
  const libp2p = {
    dialProtocol: async () => {
      const [outbound, inbound] = await yamuxStreamPair()
      held.push(outbound, inbound)
      const n = forwards++
      void (async () => {
        await new JsonStream(inbound).read(v.unknown())
        await owner(inbound, n)
      })().catch(() => {})
      return outbound
    }
  } as unknown as Libp2p
  try {
    const svc = new TasksService({ tasks, self, credentials, dataDir, prepareDataDir: async () => {}, forward: ownerForwarder(libp2p, { teachAddresses: async () => {} }), log, rejections })
    const asked: JsonStream[] = []
    for (let i = 0; i < count; i++) {
      const [outbound, inbound] = await yamuxStreamPair()
      held.push(outbound, inbound)
      void svc.handler()(inbound, { remotePeer: member } as unknown as Connection)
      const json = new JsonStream(outbound)
      await json.write({ op: 'get', id: `${member.toString()}/t-${i}` })
      asked.push(json)
      // in order: the first forward's answer is being read before the next is asked
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    // a forward waits 20 s for its owner: these answers come at once, or not in this test
    const answers = await Promise.all(asked.slice(1).map(async json => await json.read(tasksReplySchema, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => `none: ${String(err)}`)))
    return { answers, rejections }
  } finally {
    for (const stream of held) stream.abort(new Error('test over'))
    await tasks.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** The largest reply's length and a start of it, never the rest: its read holds this member's relaying budget. */
const startLargestReply: Owner = async stream => {
  stream.send(encode(MAX_REPLY_BYTES))
  stream.send(new Uint8Array(64 * 1024).fill(0x20))
}

const refusal = expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) })
const refusalCount = (count: number): unknown => expect.objectContaining({ protocol: TASKS_PROTOCOL, reason: 'rate-limited', count })

it('a member that has the node relay requests to itself and answers each with the largest reply there may be: one is read at a time for it, the others refused (ERR_RATE_LIMITED, counted) instead of read at once', async () => {
  const { answers, rejections } = await relayingToItself(startLargestReply, 4)
  expect(answers).toEqual(Array(3).fill(refusal))
  expect(rejections.counters()).toContainEqual(refusalCount(3))
})

it('a relayed answer the read budget refuses is reset, so its owner stops sending it: the stream was closed, and the owner sent all 64 MiB to be dropped', async () => {
  let sent = 0
  const chunk = new Uint8Array(1024 * 1024).fill(0x20)
  const sendWhole: Owner = async stream => {
    stream.send(encode(MAX_REPLY_BYTES))
    while (sent < MAX_REPLY_BYTES && stream.writeStatus === 'writable') {
      const more = stream.send(chunk)
      sent += chunk.byteLength
      if (!more) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }); stream.addEventListener('close', resolve, { once: true }) })
    }
  }
  const { answers, rejections } = await relayingToItself(async (stream, n) => { await (n === 0 ? startLargestReply(stream, n) : sendWhole(stream, n)) }, 2)
  expect(answers).toEqual([refusal])
  expect(rejections.counters()).toContainEqual(refusalCount(1))
  // the reset reaches the owner within its stream's window (16 MiB at most)
  await new Promise(resolve => setTimeout(resolve, 500))
  expect(sent).toBeLessThan(MAX_REPLY_BYTES / 2)
})
