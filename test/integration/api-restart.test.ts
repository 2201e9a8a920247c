import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import * as v from 'valibot'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { createClientLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import { TASKS_PROTOCOL } from '../../src/tasks/protocol-schema.ts'
import { JOURNAL_FILE } from '../../src/tasks/journal.ts'
import { MAX_OPEN_INPUT_BYTES_PER_PEER, MAX_REMOTE_SESSIONS, MAX_REMOTE_SESSIONS_PER_CALLER } from '../../src/tasks/submit-budget.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { bearer } from './helpers/api-client.ts'

/** Waits (up to 30 s) until the task journal's files in `dataDir` (the SQLite file and its write-ahead log) hold `bytes`. */
async function journalHolds (dataDir: string, bytes: number): Promise<void> {
  const size = async (file: string): Promise<number> => (await stat(join(dataDir, file)).catch(() => ({ size: 0 }))).size
  const deadline = Date.now() + 30_000
  while ((await size(JOURNAL_FILE)) + (await size(`${JOURNAL_FILE}-wal`)) < bytes) {
    if (Date.now() > deadline) throw new Error(`the task journal did not reach ${bytes} bytes within 30 s`)
    await sleep(100)
  }
}

const SQUARE = fileURLToPath(new URL('../fixtures/tasks/square.mjs', import.meta.url))
const SECRET = randomBytes(32).toString('hex')
/** Inputs (as JSON) just under the API's 256 KiB body limit: 256 of them fill one subject's 64 MiB, one more does not fit. */
const BIG_BYTES = 256 * 1024 - 64
const BIG_TASKS = Math.floor(MAX_OPEN_INPUT_BYTES_PER_PEER / BIG_BYTES)
const BIG_INPUT = 'x'.repeat(BIG_BYTES - 2)
/** Subjects that together open every API session the node holds (256): 64 each. */
const OPENERS = ['alice', 'bob', 'carol', 'dave']

interface Answer { status: number, json: any }

describe('an HTTP API node restarted (durable journal): its clients\' sessions and budgets are kept', () => {
  let grid: GridFixture
  let owner: GridProcess
  let base = ''

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    await writeFile(join(grid.dir, 'jwt.secret'), SECRET, { mode: 0o600 })
  }, 30_000)
  afterAll(async () => { await grid?.close() })

  // no agent in this grid: the owner's tasks stay queued, open, until cancelled
  const startOwner = async (): Promise<void> => {
    owner = await grid.start('n2', ['--data-dir', join(grid.dir, 'owner-data'), '--task', `square=${SQUARE}`, '--api', '0', '--api-jwt-secret-file', join(grid.dir, 'jwt.secret')])
    base = String((await owner.firstLine(l => l.msg === 'HTTP API listening')).url)
  }
  const call = async (who: string, method: string, path: string, body?: unknown): Promise<Answer> => {
    const token = await bearer(SECRET, who, ['tasks:submit', 'tasks:read', 'tasks:cancel'])
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
  }
  /** One request on the tasks protocol to the owner, as member n3. */
  const ask = async (request: object): Promise<{ ok: boolean, error?: { code?: string, message?: string } }> => {
    const client = await createClientLibp2p(await loadCerts(grid.dir, 'n3'), pino({ level: 'silent' }))
    try {
      return await requestJson(client, multiaddr(`/ip4/127.0.0.1/tcp/${owner.port}/p2p/${owner.peerId}`), TASKS_PROTOCOL, request, v.any(), { signal: AbortSignal.timeout(30_000) }) as { ok: boolean }
    } finally {
      await client.stop()
    }
  }
  const enc = encodeURIComponent

  it('after a SIGKILL a client still reads, closes and cancels its sessions, and what it holds stays on its budget (not the tasks protocol\'s)', async () => {
    await startOwner()
    const sessions: Record<string, string[]> = {}
    for (const who of OPENERS) {
      sessions[who] = []
      for (let i = 0; i < MAX_REMOTE_SESSIONS_PER_CALLER; i++) {
        const opened = await call(who, 'POST', '/v1/sessions', {})
        expect(opened.status).toBe(201)
        sessions[who].push(opened.json.id)
      }
    }
    const [first, second] = sessions.alice!
    const inSession = await call('alice', 'POST', '/v1/tasks', { task: 'square', input: 3, session: first })
    expect(inSession.status).toBe(202)
    const big: string[] = []
    for (let i = 0; i < BIG_TASKS; i++) {
      const submitted = await call('alice', 'POST', '/v1/tasks', { task: 'square', input: BIG_INPUT })
      expect(submitted.status).toBe(202)
      big.push(submitted.json.id)
    }
    // every budget is full before the restart
    expect((await call('alice', 'POST', '/v1/sessions', {})).json).toMatchObject({ code: 'ERR_TASK_LIMIT' })
    expect((await call('erin', 'POST', '/v1/sessions', {})).json).toMatchObject({ code: 'ERR_TASK_LIMIT' })
    expect((await call('alice', 'POST', '/v1/tasks', { task: 'square', input: BIG_INPUT })).json).toMatchObject({ code: 'ERR_TASK_LIMIT' })
    // the journal commits in batches every few ms, but 64 MiB of inputs took longer than the 1 s this waited on a
    // loaded machine (179 of 257 tasks resumed): wait until the journal holds them all, then a moment for the batch
    await journalHolds(join(grid.dir, 'owner-data'), BIG_TASKS * BIG_BYTES)
    await sleep(500)
    await owner.stop('SIGKILL')

    await startOwner()
    expect(await owner.firstLine(l => l.msg === 'tasks resumed from the journal')).toMatchObject({ requeued: BIG_TASKS + 1 })

    // its sessions are still alice's, and only hers
    expect(await call('alice', 'GET', `/v1/sessions/${enc(first!)}`)).toMatchObject({ status: 200, json: { id: first, counts: { queued: 1 } } })
    expect((await call('bob', 'GET', `/v1/sessions/${enc(first!)}`)).json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
    const listed = await call('alice', 'GET', '/v1/sessions')
    expect((listed.json as Array<{ id: string }>).map(s => s.id).sort()).toEqual([...sessions.alice!].sort())
    expect((await call('alice', 'GET', `/v1/tasks/${enc(inSession.json.id)}`)).status).toBe(200)

    // the API's sessions are not on the tasks protocol's budget: a member still opens one there
    const viaProtocol = await ask({ op: 'session-open' })
    expect(viaProtocol.error).toBeUndefined()
    expect(viaProtocol.ok).toBe(true)

    // what alice held is on her API budget again, and on all subjects' together
    const refused = await call('alice', 'POST', '/v1/sessions', {})
    expect(refused.json).toMatchObject({ status: 429, code: 'ERR_TASK_LIMIT' })
    expect(refused.json.detail).toMatch(/64 sessions of yours are open/)
    expect((await call('erin', 'POST', '/v1/sessions', {})).json).toMatchObject({ status: 429, code: 'ERR_TASK_LIMIT' })
    expect((await call('alice', 'POST', '/v1/tasks', { task: 'square', input: BIG_INPUT })).json).toMatchObject({ status: 429, code: 'ERR_TASK_LIMIT' })
    expect(MAX_REMOTE_SESSIONS).toBe(OPENERS.length * MAX_REMOTE_SESSIONS_PER_CALLER)

    // she closes one (no tasks: done at once) and cancels another with its task: room comes back as they end
    expect((await call('alice', 'POST', `/v1/sessions/${enc(second!)}/close`)).status).toBe(202)
    expect((await call('alice', 'POST', '/v1/sessions', {})).status).toBe(201)
    expect(await call('alice', 'DELETE', `/v1/sessions/${enc(first!)}`)).toMatchObject({ status: 202, json: { closed: true } })
    expect((await call('bob', 'DELETE', `/v1/sessions/${enc(sessions.carol![0]!)}`)).status).toBe(404)
    expect((await call('alice', 'DELETE', `/v1/tasks/${enc(big[0]!)}`)).status).toBe(202)
    expect((await call('alice', 'POST', '/v1/tasks', { task: 'square', input: BIG_INPUT })).status).toBe(202)
  }, 180_000)
})
