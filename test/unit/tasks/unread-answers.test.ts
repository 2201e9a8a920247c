import { it, expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { Connection, Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { TasksService } from '../../../src/tasks/service.ts'
import { MAX_UNSENT_REPLY_BYTES } from '../../../src/tasks/result-cap.ts'
import { TASKS_PROTOCOL } from '../../../src/tasks/protocol-schema.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { ScriptedWorker } from './scripted-worker.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'

const MB = 1024 * 1024
const RESULT_BYTES = 12 * MB
const log = pino({ level: 'silent' })

/** Returns a 12 MiB string for every task. */
class LargeResultWorker extends ScriptedWorker {
  override async process (): Promise<unknown> {
    return 'r'.repeat(RESULT_BYTES)
  }
}

it('a peer that asks for a large result on every stream and reads none cannot make the node hold them all: past the bound, ERR_RATE_LIMITED (counted)', async () => {
  const member = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  // task ids name their owner by peer id
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const credentials = new PeerCredentials()
  credentials.record(member.toString(), { name: 'm', serial: '1', roles: new Set(['member']), notAfter: Number.MAX_SAFE_INTEGER })
  const tasks = new Tasks(self, { spawn: async () => new LargeResultWorker(), capacity: (_r, limit) => limit, log }, { sizeEveryMs: 60_000 })
  tasks.register('large', fileURLToPath(new URL('../../fixtures/tasks/square.mjs', import.meta.url)))
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-unread-'))
  const rejections = new Rejections(log)
  const held: Stream[] = []
  try {
    const svc = new TasksService({ tasks, self, credentials, dataDir, prepareDataDir: async () => {}, forward: async () => { throw new Error('not forwarded') }, log, rejections })
    const submitted = await svc.serve(member.toString(), { op: 'submit', module: { kind: 'name', name: 'large' }, input: 1 })
    if (!submitted.ok) throw new Error(`submit failed: ${JSON.stringify(submitted)}`)
    const done = await svc.serve(member.toString(), { op: 'wait', id: submitted.id!, timeoutMs: 10_000 })
    expect(done.ok && done.task?.status).toBe('completed')

    // 16 gets of it at once, none read: 192 MiB of answers for 16 small requests
    const handler = svc.handler()
    for (let i = 0; i < 16; i++) {
      const [outbound, inbound] = await yamuxStreamPair()
      held.push(inbound, outbound)
      void handler(inbound, { remotePeer: member } as unknown as Connection)
      outbound.pause()
      await new JsonStream(outbound).write({ op: 'get', id: submitted.id! })
    }
    await new Promise(resolve => setTimeout(resolve, 500))
    const queued = held.reduce((sum, stream) => sum + stream.writeBufferLength, 0)
    expect(queued).toBeLessThanOrEqual(MAX_UNSENT_REPLY_BYTES + RESULT_BYTES)
    expect(rejections.counters()).toContainEqual(expect.objectContaining({ protocol: TASKS_PROTOCOL, reason: 'rate-limited' }))
  } finally {
    for (const stream of held) stream.abort(new Error('test over'))
    await tasks.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
})
