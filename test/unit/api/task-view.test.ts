import { it, expect, afterEach } from 'vitest'
import { tokenServer } from './token-server.ts'
import { apiSubmitter } from '../../../src/api/ownership.ts'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

it('a failed task is shown without its stack (paths on the worker machine) nor fields outside the Task schema', async () => {
  const { server, session, token: tokenOf } = await tokenServer(cleanup, { rateLimit: 1000 })
  const token = await tokenOf('tasks:read', 'reader')
  const task = session.submit('noop', null, { submitter: apiSubmitter('reader') })
  task.progress('50%')
  task.mark('failed', { name: 'RangeError', message: 'bad scale', stack: 'RangeError: bad scale\n    at /home/build/secret/task.ts:8:27', code: 'ERR_REMOTE' })
  const res = await fetch(`${server.url}/v1/tasks/${encodeURIComponent(task.id)}`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  const body = await res.json() as Record<string, unknown>
  expect(body.error).toEqual({ name: 'RangeError', message: 'bad scale', code: 'ERR_REMOTE' })
  expect(body).not.toHaveProperty('progress')
  expect(body.status).toBe('failed')
})
