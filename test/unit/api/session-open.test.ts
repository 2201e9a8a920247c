import { describe, it, expect, afterEach } from 'vitest'
import { tokenServer } from './token-server.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const undo of cleanup.splice(0).reverse()) await undo() })

describe('POST /v1/sessions: every field optional', () => {
  it('no body at all (curl -X POST) opens a session with the defaults: 201, not 400 "body must be object"', async () => {
    const { server, token } = await tokenServer(cleanup)
    const res = await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${await token('tasks:submit', 'ci')}` } })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ closed: false })
  })

  it('a body the schema refuses is still a 400', async () => {
    const { server, token } = await tokenServer(cleanup)
    const res = await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${await token('tasks:submit', 'ci')}`, 'content-type': 'application/json' }, body: JSON.stringify({ priorty: 1 }) })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'ERR_VALIDATION' })
  })
})
