import { it, expect, afterEach } from 'vitest'
import { tokenServer } from './token-server.ts'

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

const PEER = '12D3KooWAeR8Ypmvn4x2c1AvJyQfva59iLevUUGf5VkXRjvkAopZ'

it('a token whose sub is a peer id\'s text does not read the tasks that peer submitted over the tasks protocol', async () => {
  const { server, session, token } = await tokenServer(cleanup)
  // as the tasks protocol records a remote caller
  const task = session.submit('noop', null, { submitter: PEER })
  const res = await fetch(`${server.url}/v1/tasks/${encodeURIComponent(task.id)}`, { headers: { authorization: `Bearer ${await token('tasks:read', PEER)}` } })
  expect(res.status).toBe(404)
})

it('a subject longer than a task info carries still reads (and only it) what it submitted', async () => {
  const { server, token } = await tokenServer(cleanup)
  const [long, other] = ['a', 'b'].map(c => `${c.repeat(300)}`)
  const headers = async (sub: string): Promise<Record<string, string>> => ({ authorization: `Bearer ${await token('tasks:read tasks:submit', sub)}`, 'content-type': 'application/json' })
  const submitted = await fetch(`${server.url}/v1/tasks`, { method: 'POST', headers: await headers(long!), body: JSON.stringify({ task: 'noop' }) })
  const { id } = await submitted.json() as { id: string }
  const read = async (sub: string): Promise<Response> => await fetch(`${server.url}/v1/tasks/${encodeURIComponent(id)}`, { headers: await headers(sub) })
  const own = await read(long!)
  expect(own.status).toBe(200)
  expect((await read(other!)).status).toBe(404)
  expect((await read(long!.slice(0, 299))).status).toBe(404)
})
