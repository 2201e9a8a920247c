import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import * as v from 'valibot'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { createClientLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import { TASKS_PROTOCOL } from '../../src/tasks/protocol-schema.ts'
import { MAX_OPEN_INPUT_BYTES_PER_PEER, MAX_REMOTE_SESSIONS_PER_CALLER } from '../../src/tasks/submit-budget.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'

const SQUARE = fileURLToPath(new URL('../fixtures/tasks/square.mjs', import.meta.url))
/** Inputs that fill one peer's bytes budget exactly: 16 strings of 4 MiB as JSON (quotes included). */
const BIG_TASKS = 16
const BIG_INPUT = 'x'.repeat(MAX_OPEN_INPUT_BYTES_PER_PEER / BIG_TASKS - 2)

interface Reply { ok: boolean, id?: string, error?: { code?: string, message?: string } }

describe('a durable owner restarted: what it resumes is charged to its submitters\' budgets again', () => {
  let grid: GridFixture
  let owner: GridProcess

  beforeAll(async () => { grid = await GridFixture.create(3) }, 30_000)
  afterAll(async () => { await grid?.close() })

  /** One request on the tasks protocol to the owner, as peer `cert` (a member certificate: a stable peer id). */
  const ask = async (cert: string, request: object): Promise<Reply> => {
    const client = await createClientLibp2p(await loadCerts(grid.dir, cert), pino({ level: 'silent' }))
    try {
      return await requestJson(client, multiaddr(`/ip4/127.0.0.1/tcp/${owner.port}/p2p/${owner.peerId}`), TASKS_PROTOCOL, request, v.any(), { signal: AbortSignal.timeout(30_000) }) as Reply
    } finally {
      await client.stop()
    }
  }
  const submit = async (cert: string, input: unknown): Promise<Reply> => await ask(cert, { op: 'submit', module: { kind: 'name', name: 'square' }, input })
  // no agent in this grid: the owner's tasks stay queued, open, until cancelled
  const startOwner = async (): Promise<GridProcess> => await grid.start('n2', ['--data-dir', join(grid.dir, 'owner-data'), '--task', `square=${SQUARE}`])

  it('sessions and tasks resumed after a SIGKILL fill the peer\'s budget: its next ones are refused until some end', async () => {
    owner = await startOwner()
    const sessions: string[] = []
    for (let i = 0; i < MAX_REMOTE_SESSIONS_PER_CALLER; i++) {
      const opened = await ask('n3', { op: 'session-open' })
      expect(opened.ok).toBe(true)
      sessions.push(opened.id!)
    }
    const tasks: string[] = []
    for (let i = 0; i < BIG_TASKS; i++) {
      const submitted = await submit('n3', BIG_INPUT)
      expect(submitted.ok).toBe(true)
      tasks.push(submitted.id!)
    }
    // the budget is full before the restart
    expect((await ask('n3', { op: 'session-open' })).error?.code).toBe('ERR_TASK_LIMIT')
    expect((await submit('n3', 1)).error?.code).toBe('ERR_TASK_LIMIT')
    // the journal commits every few ms: let the last batch land before the kill
    await sleep(1000)
    await owner.stop('SIGKILL')

    owner = await startOwner()
    const resumed = await owner.firstLine(l => l.msg === 'tasks resumed from the journal')
    expect(resumed).toMatchObject({ requeued: BIG_TASKS })
    expect(resumed.sessions).toBeGreaterThanOrEqual(MAX_REMOTE_SESSIONS_PER_CALLER)

    // resumed, they count as when they came: refused for the same peer, not for another
    const session = await ask('n3', { op: 'session-open' })
    expect(session.error?.code).toBe('ERR_TASK_LIMIT')
    expect(session.error?.message).toMatch(/64 sessions of yours are open/)
    const task = await submit('n3', 1)
    expect(task.error?.code).toBe('ERR_TASK_LIMIT')
    expect((await submit('n1', 1)).ok).toBe(true)
    expect((await ask('n1', { op: 'session-open' })).ok).toBe(true)

    // one of its sessions closed (no tasks: done at once) and one task cancelled give their room back
    expect((await ask('n3', { op: 'session-close', id: sessions[0] })).ok).toBe(true)
    expect((await ask('n3', { op: 'session-open' })).ok).toBe(true)
    expect((await ask('n3', { op: 'cancel', id: tasks[0] })).ok).toBe(true)
    expect((await submit('n3', 1)).ok).toBe(true)
  }, 120_000)
})
