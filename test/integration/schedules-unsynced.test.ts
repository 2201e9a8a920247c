import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { bearer } from './helpers/api-client.ts'
import { freePort } from './helpers/ports.ts'

const tickLog = fileURLToPath(new URL('../fixtures/tasks/tick-log.mjs', import.meta.url))
const SECRET = randomBytes(32).toString('hex')

/**
 * An API node checks who may replace a schedule on its copy of the schedules channel: a copy that has
 * not synced yet (the node just started) must not pass another maker's schedule off as a free id.
 */
describe('schedules on an API node that has just started', () => {
  let grid: GridFixture
  let n1: GridProcess
  let alice = ''
  let bob = ''
  const api = async (node: GridProcess): Promise<string> => String((await node.firstLine(l => l.msg === 'HTTP API listening')).url)
  const call = async (url: string, body: unknown, who: string): Promise<{ status: number, json: any }> => {
    const res = await fetch(`${url}/v1/schedules`, { method: 'POST', headers: { authorization: `Bearer ${who}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return { status: res.status, json: await res.json() }
  }
  const spec = { id: 'nightly', cron: '0 30 2 * * *', task: 'tick', input: { file: '/dev/null' } }
  const apiFlags = (): string[] => ['--api', '0', '--api-jwt-secret-file', join(grid.dir, 'jwt.secret'), '--task', `tick=${tickLog}`]

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    await writeFile(join(grid.dir, 'jwt.secret'), SECRET, { mode: 0o600 })
    alice = await bearer(SECRET, 'alice', ['tasks:submit', 'tasks:read'], '10m')
    bob = await bearer(SECRET, 'bob', ['tasks:submit', 'tasks:read'], '10m')
    n1 = await grid.start('n1', apiFlags())
    expect((await call(await api(n1), spec, alice)).status).toBe(201)
  }, 60_000)

  afterAll(async () => {
    await grid?.close()
  })

  it('another maker\'s create under the same id, on a node just joined, is refused (403), not a replacement', async () => {
    const n2 = await grid.start('n2', ['--peer', n1.address, ...apiFlags()])
    const res = await call(await api(n2), { ...spec, cron: '0 0 * * * *' }, bob)
    expect(res.status, JSON.stringify(res.json)).toBe(403)
  }, 30_000)

  it('a node whose seed is not reachable refuses a create (503 ERR_NOT_SYNCED, retryable) rather than check it on an empty view', async () => {
    const n3 = await grid.start('n3', ['--peer', `127.0.0.1:${await freePort()}`, ...apiFlags()])
    const res = await call(await api(n3), { ...spec, cron: '0 0 * * * *' }, bob)
    expect(res.status, JSON.stringify(res.json)).toBe(503)
    expect(res.json.code).toBe('ERR_NOT_SYNCED')
  }, 30_000)
})
