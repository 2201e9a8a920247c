import { it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { startApiServer } from '../../../src/api/server.ts'
import { stubNode } from './stub-node.ts'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

it('a failed task is shown without its stack (paths on the worker machine) nor fields outside the Task schema', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-api-view-'))
  cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const secret = 'v'.repeat(40)
  await writeFile(join(dir, 'secret'), secret)
  const { node, session } = stubNode()
  const server = await startApiServer(node, { port: 0, jwt: { secretFile: join(dir, 'secret') }, rateLimit: 1000 })
  cleanup.push(server.close)
  const token = await new SignJWT({ scope: 'tasks:read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('reader').setExpirationTime('5m').sign(new TextEncoder().encode(secret))
  const task = session.submit('noop', null)
  task.progress('50%')
  task.mark('failed', { name: 'RangeError', message: 'bad scale', stack: 'RangeError: bad scale\n    at /home/build/secret/task.ts:8:27', code: 'ERR_REMOTE' })
  const res = await fetch(`${server.url}/v1/tasks/${encodeURIComponent(task.id)}`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  const body = await res.json() as Record<string, unknown>
  expect(body.error).toEqual({ name: 'RangeError', message: 'bad scale', code: 'ERR_REMOTE' })
  expect(body).not.toHaveProperty('progress')
  expect(body.status).toBe('failed')
})
