import { it, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import * as v from 'valibot'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
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

it('a member that has the node relay requests to itself and answers each with the largest reply there may be: one is read at a time for it, the others refused (ERR_RATE_LIMITED, counted) instead of read at once', async () => {
  const member = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const credentials = new PeerCredentials()
  credentials.record(member.toString(), { name: 'm', serial: '1', roles: new Set(['member']), notAfter: Number.MAX_SAFE_INTEGER })
  const tasks = new Tasks(self, { spawn: async () => new ScriptedWorker(), capacity: (_r, limit) => limit, log }, { sizeEveryMs: 60_000 })
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-relayed-'))
  const rejections = new Rejections(log)
  const held: Stream[] = []
  // the member as the owner its ids name: each forwarded request is answered with a 64 MiB length and a start
  const libp2p = {
    dialProtocol: async () => {
      const [outbound, inbound] = await yamuxStreamPair()
      held.push(outbound, inbound)
      void (async () => {
        await new JsonStream(inbound).read(v.unknown())
        inbound.send(encode(MAX_REPLY_BYTES))
        inbound.send(new Uint8Array(64 * 1024).fill(0x20))
      })().catch(() => {})
      return outbound
    }
  } as unknown as Libp2p
  try {
    const svc = new TasksService({ tasks, self, credentials, dataDir, prepareDataDir: async () => {}, forward: ownerForwarder(libp2p, { teachAddresses: async () => {} }), log, rejections })
    const asked: JsonStream[] = []
    for (let i = 0; i < 4; i++) {
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
    expect(answers).toEqual(Array(3).fill(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) })))
    expect(rejections.counters()).toContainEqual(expect.objectContaining({ protocol: TASKS_PROTOCOL, reason: 'rate-limited', count: 3 }))
  } finally {
    for (const stream of held) stream.abort(new Error('test over'))
    await tasks.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
})
