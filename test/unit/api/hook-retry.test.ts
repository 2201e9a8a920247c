import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApiServer } from '../../../src/api/server.ts'
import type { ApiServer } from '../../../src/api/server.ts'
import { signHook } from '../../../src/api/hooks/signature.ts'
import { NodeStoppedError } from '../../../src/errors.ts'
import { stubNode } from './stub-node.ts'

const SECRET = 'k'.repeat(32)
const dirs: string[] = []
const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async s => { await s.close() }))
  await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
})

/** An API server over a stub node with hook `h` (task `noop`); `refusals`: its first submits throw NodeStoppedError (503). */
async function hookServer (refusals = 0): Promise<{ post: () => Promise<{ status: number, code?: string }>, queued: unknown[] }> {
  const { node, queued } = stubNode()
  const submit = node.tasks.submit.bind(node.tasks)
  let left = refusals
  ;(node.tasks as { submit: typeof submit }).submit = (...args) => {
    if (left-- > 0) throw new NodeStoppedError()
    return submit(...args)
  }
  const dir = await mkdtemp(join(tmpdir(), 'gridd-hook-retry-'))
  dirs.push(dir)
  await writeFile(join(dir, 'hook'), SECRET)
  const server = await startApiServer(node, { port: 0, hooks: [{ name: 'h', task: 'noop', secretFile: join(dir, 'hook') }] })
  servers.push(server)
  // one signed call, sent again as it is: what a sender retrying it sends
  const ts = String(Math.floor(Date.now() / 1000))
  const body = '{"event":"push"}'
  const headers = { 'content-type': 'application/json', 'x-gridd-timestamp': ts, 'x-hub-signature-256': signHook(SECRET, ts, body) }
  const post = async (): Promise<{ status: number, code?: string }> => {
    const res = await fetch(`${server.url}/v1/hooks/h`, { method: 'POST', headers, body })
    return { status: res.status, code: ((await res.json()) as { code?: string }).code }
  }
  return { post, queued }
}

describe('a webhook call refused for a reason retrying can cure', () => {
  /** Its signature was recorded before the refusal: the sender's retry was refused as a replay (401), the event lost. */
  it('the same signed call sent again after a 503 (the node stopping) runs its task', async () => {
    const { post, queued } = await hookServer(1)
    expect(await post()).toMatchObject({ status: 503, code: 'ERR_NODE_STOPPED' })
    expect(queued).toHaveLength(0)
    expect(await post()).toMatchObject({ status: 202 })
    expect(queued).toHaveLength(1)
    // accepted once: from then on it is a replay
    expect(await post()).toMatchObject({ status: 401, code: 'ERR_HOOK_SIGNATURE' })
    expect(queued).toHaveLength(1)
  })

  it('two identical calls in flight at once still run one task', async () => {
    const { post, queued } = await hookServer()
    const statuses = (await Promise.all([post(), post(), post()])).map(r => r.status).sort()
    expect(statuses).toEqual([202, 401, 401])
    expect(queued).toHaveLength(1)
  })
})
