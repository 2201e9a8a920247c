import { it, expect, afterEach } from 'vitest'
import { connect } from 'node:net'
import { get } from 'node:http'
import Fastify from 'fastify'
import type { FastifyReply } from 'fastify'
import { UnsentReplies } from '../../../src/transport/unsent-replies.ts'
import { sendHeld } from '../../../src/api/held-reply.ts'
import { replySignal } from '../../../src/api/reply-signal.ts'
import type { Socket } from 'node:net'
import { MAX_UNSENT_REPLY_BYTES } from '../../../src/tasks/result-cap.ts'
import { tokenServer } from './token-server.ts'
import { apiSubmitter } from '../../../src/api/ownership.ts'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

const MB = 1024 * 1024

/** Sends a GET on a raw socket, reads the status line of the answer, then stops reading. */
async function getWithoutReading (port: number, path: string, token: string): Promise<number> {
  const socket: Socket = connect(port, '127.0.0.1')
  cleanup.push(() => { socket.destroy() })
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`)
  const first = await new Promise<Buffer>((resolve, reject) => { socket.once('data', resolve); socket.once('error', reject) })
  socket.pause()
  return Number(/^HTTP\/1\.1 (\d+)/.exec(first.toString('latin1'))?.[1])
}

it('a client asking for a large task result on many connections without reading cannot make the node hold them all: past the bound, 429', async () => {
  const { server, session, token: tokenOf } = await tokenServer(cleanup, { rateLimit: 1000 })
  const token = await tokenOf('tasks:read', 'reader')
  const task = session.submit('noop', null, { submitter: apiSubmitter('reader') })
  task.complete('v'.repeat(8 * MB))
  const port = Number(new URL(server.url).port)
  const statuses: number[] = []
  // 16 answers of 8 MiB: 128 MiB for 16 small requests
  for (let i = 0; i < 16; i++) statuses.push(await getWithoutReading(port, `/v1/tasks/${encodeURIComponent(task.id)}`, token))
  const sent = statuses.filter(s => s === 200).length
  expect(sent).toBeLessThanOrEqual(MAX_UNSENT_REPLY_BYTES / (8 * MB) + 1)
  expect(statuses.filter(s => s === 429).length).toBe(16 - sent)
  // a reader that reads gets its answer once those are let go
  for (const undo of cleanup.splice(2)) await undo()
  await new Promise(resolve => setTimeout(resolve, 200))
  const res = await fetch(`${server.url}/v1/tasks/${encodeURIComponent(task.id)}`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  expect(((await res.json()) as { value: string }).value).toHaveLength(8 * MB)
})

/**
 * Serves `handle` behind an onRequest hook that waits (as the real server's awaits the token's
 * verification) until the client has gone, so its 'close' comes before the handler runs; resolves once
 * the handler has.
 */
async function servedAfterClientLeft (handle: (reply: FastifyReply) => Promise<unknown>): Promise<void> {
  let arrived!: (client: { gone: Promise<void> }) => void
  const inHook = new Promise<{ gone: Promise<void> }>(resolve => { arrived = resolve })
  let proceed!: () => void
  const gate = new Promise<void>(resolve => { proceed = resolve })
  let served!: () => void
  const handled = new Promise<void>(resolve => { served = resolve })
  const app = Fastify()
  cleanup.push(async () => { await app.close() })
  app.addHook('onRequest', async (_request, reply) => {
    arrived({ gone: new Promise(resolve => { reply.raw.once('close', () => { resolve() }) }) })
    await gate
  })
  app.get('/', async (_request, reply) => {
    try {
      return await handle(reply)
    } finally {
      served()
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = get(`http://127.0.0.1:${port}/`)
  client.on('error', () => {})
  const { gone } = await inHook
  client.destroy()
  await gone
  proceed()
  await handled
}

it('an answer held for a client that left while its token was checked is let go: the subject\'s unsent budget does not leak', async () => {
  const unsent = new UnsentReplies(MAX_UNSENT_REPLY_BYTES)
  await servedAfterClientLeft(async reply => await sendHeld({ unsent }, reply, 'gone', 200, { value: 'v'.repeat(MB) }))
  const deadline = Date.now() + 2000
  while (unsent.heldBy('gone') > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  expect(unsent.heldBy('gone')).toBe(0)
})

it('the signal of a reply whose client left while its token was checked is aborted at once (?wait=1 does not wait for nobody)', async () => {
  let aborted = false
  await servedAfterClientLeft(async reply => {
    const signal = replySignal(reply)
    if (!signal.aborted) await new Promise(resolve => { signal.addEventListener('abort', resolve, { once: true }); setTimeout(resolve, 2000).unref() })
    aborted = signal.aborted
    return await reply.send({})
  })
  expect(aborted).toBe(true)
})
