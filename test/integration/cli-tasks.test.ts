import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as v from 'valibot'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { createClientLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import { TASKS_PROTOCOL } from '../../src/tasks/protocol-schema.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { GRID_BIN, eventually, runGrid } from './helpers/grid-process.ts'
import type { CliResult } from './helpers/grid-process.ts'

const task = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

interface TaskJson { id: string, session: string, status: string, module?: string, path?: string, submitter?: string, value?: unknown, error?: { code?: string } }
interface SessionJson { id: string, name: string, closed: boolean, counts: Record<string, number>, tasks: TaskJson[] }

describe('grid task and grid session: real nodes, the CLI end to end', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  /** The owner: a member that is not an agent, so its tasks run on the agents' workers. */
  let owner: GridProcess
  /** Another member: asked about the owner's ids, it routes them to the owner. */
  let other: GridProcess

  /** `grid <args> --peer <via> --certs <dir>` (the certificate is the command's default unless `args` names one). */
  const grid$ = async (args: string[], via: GridProcess = owner): Promise<CliResult> =>
    await runGrid([...args, '--peer', via.address, '--certs', grid.dir], { timeoutMs: 60_000 })
  const json = <T>(res: CliResult): T => {
    if (res.code !== 0) throw new Error(`grid exited ${res.code}: ${res.stderr}`)
    return JSON.parse(res.stdout) as T
  }

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    agents = await grid.startAgents(2, AGENT)
    other = agents[0]!
    owner = await grid.start('n3', ['--peer', other.address, '--task', `resize=${task('resize.mjs')}`])
    // the owner places tasks once it sees both agents alive
    await eventually(async () => (await grid.status(owner)).members.filter(m => m.state === 'alive').length === 2 ? true : undefined, 20_000)
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('task run ships a module file (member certificate) and prints its result as JSON', async () => {
    const res = await grid$(['task', 'run', task('square.mjs'), '--input', '7'])
    expect(res.stderr).not.toMatch(/refused|unreachable/)
    expect(res.code).toBe(0)
    expect(res.stdout).toBe('49\n')
  }, 60_000)

  it('task run without --input: the task gets undefined on the agent and its result comes back (a batch entry without an item once made the agent close the stream, and the task ran again until lost)', async () => {
    const res = await grid$(['task', 'run', task('noop.mjs')])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.stdout).toBe('null\n')
  }, 60_000)

  it('a task that throws: the remote stack names the task file and line, exit 1', async () => {
    const res = await grid$(['task', 'run', task('fails.mjs'), '--input', '"x"'])
    expect(res.code).toBe(1)
    expect(res.stdout).toBe('')
    expect(res.stderr).toContain('failed: RangeError')
    expect(res.stderr).toContain('no good: x')
    expect(res.stderr).toMatch(/fails\.mjs:3/)
  }, 60_000)

  it('a task module that throws as it loads: the stack shown names its file and line, not the owner\'s code, exit 1', async () => {
    const res = await grid$(['task', 'run', task('fails-to-load.mjs')])
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('failed: StageSetupError (ERR_STAGE_SETUP)')
    expect(res.stderr).toContain('no config to load: undefined')
    // before, the stack printed was where the owner noticed the worker's exit (workerExitedError, LocalWorker…)
    expect(res.stderr).toMatch(/fails-to-load\.mjs:3/)
    expect(res.stderr).not.toContain('workerExitedError')
  }, 60_000)

  it('task submit prints the id; wait prints the result; get prints the state with the value and the submitter', async () => {
    const submitted = await grid$(['task', 'submit', task('cooperative.mjs'), '--input', '{"ms":200}'])
    expect(submitted.code).toBe(0)
    const id = submitted.stdout.trim()
    expect(id).toMatch(new RegExp(`^${owner.peerId}/t-[0-9a-f]+$`))
    const waited = json<{ ran: number, pid: number }>(await grid$(['task', 'wait', id]))
    expect(waited.ran).toBeGreaterThanOrEqual(200)
    const got = json<TaskJson>(await grid$(['task', 'get', id]))
    expect(got).toMatchObject({ id, status: 'completed', value: waited })
    // the CLI's member certificate ("node"), not the owner, submitted it
    expect(got.submitter).toBeDefined()
    expect(got.submitter).not.toBe(owner.peerId)
  }, 60_000)

  it('task cancel from the CLI stops a running task; wait then reports it cancelled (exit 1)', async () => {
    const id = (await grid$(['task', 'submit', task('cooperative.mjs'), '--input', '{"ms":20000}'])).stdout.trim()
    await eventually(async () => json<TaskJson>(await grid$(['task', 'get', id])).status === 'running' ? true : undefined, 20_000, 300)
    // a wait that runs out of --deadline says the task goes on
    const impatient = await grid$(['task', 'wait', id, '--deadline', '1500'])
    expect(impatient.code).toBe(1)
    expect(impatient.stderr).toContain(`task ${id} is not final after --deadline 1500 ms`)
    const cancelled = json<TaskJson>(await grid$(['task', 'cancel', id]))
    expect(cancelled).toMatchObject({ id, status: 'cancelled', error: { code: 'ERR_TASK_CANCELLED' } })
    const waited = await grid$(['task', 'wait', id])
    expect(waited.code).toBe(1)
    expect(waited.stderr).toContain('ERR_TASK_CANCELLED')
  }, 60_000)

  it('interrupting grid task run (SIGINT) cancels its task on the owner', async () => {
    const started = Date.now()
    const cli = spawn(process.execPath, [GRID_BIN, 'task', 'run', task('cooperative.mjs'), '--input', '{"ms":20000}', '--peer', owner.address, '--certs', grid.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    cli.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const exited = once(cli, 'exit')
    try {
      const running = await eventually(async () => {
        const shown = json<SessionJson>(await grid$(['session', 'show', `${owner.peerId}/s-default`, '--status', 'running', '--json']))
        return shown.tasks.find(t => (t as TaskJson & { submittedAt: number }).submittedAt >= started)
      }, 20_000, 300)
      cli.kill('SIGINT')
      const [code] = await exited
      expect(code).toBe(130)
      expect(stderr).toContain(`task ${running.id} cancelled`)
      expect(json<TaskJson>(await grid$(['task', 'get', running.id]))).toMatchObject({ status: 'cancelled', error: { code: 'ERR_TASK_CANCELLED' } })
    } finally {
      cli.kill('SIGKILL')
    }
  }, 60_000)

  it('a client certificate runs a registered task, and is refused for a module file (ERR_FORBIDDEN)', async () => {
    const ran = await grid$(['task', 'run', 'resize', '--input', '{"width":640,"height":480,"scale":0.5}'])
    expect(ran.stderr).toBe('')
    expect(JSON.parse(ran.stdout)).toEqual({ width: 320, height: 240 })
    const refused = await grid$(['task', 'run', task('square.mjs'), '--input', '3', '--name', 'client'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('ERR_FORBIDDEN')
    expect(refused.stdout).toBe('')
    // a name the node did not register is not looked up as a path there
    const unknown = await grid$(['task', 'run', 'square.mjs', '--input', '3'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('ERR_TASK_NOT_REGISTERED')
    // ... and as it reads like a file name, the answer says there is no such file where the command ran
    expect(unknown.stderr).toContain(`there is no file "square.mjs" in ${process.cwd()}`)
    // a plain name gets the node's answer alone
    const plain = await grid$(['task', 'run', 'sqaure', '--input', '3'])
    expect(plain.code).toBe(1)
    expect(plain.stderr).toContain('ERR_TASK_NOT_REGISTERED')
    expect(plain.stderr).not.toContain('there is no file')
  }, 60_000)

  it('a client reads and cancels only its own tasks', async () => {
    const own = (await grid$(['task', 'submit', 'resize', '--input', '{"width":2,"height":2,"scale":2}'])).stdout.trim()
    expect(json<TaskJson>(await grid$(['task', 'wait', own, '--name', 'client']))).toEqual({ width: 4, height: 4 })
    const members = (await grid$(['task', 'submit', task('square.mjs'), '--input', '4'])).stdout.trim()
    for (const op of ['get', 'wait', 'cancel']) {
      const refused = await grid$(['task', op, members, '--name', 'client'])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain('ERR_FORBIDDEN')
    }
  }, 60_000)

  it('a task id owned by one node, asked about through another, is routed to its owner', async () => {
    const id = (await grid$(['task', 'submit', task('square.mjs'), '--input', '9'])).stdout.trim()
    expect(id.startsWith(`${owner.peerId}/`)).toBe(true)
    // `other` holds no such task: it forwards to the owner the id names
    expect(await grid$(['task', 'wait', id], other)).toMatchObject({ code: 0, stdout: '81\n' })
    expect(json<TaskJson>(await grid$(['task', 'get', id], other))).toMatchObject({ id, status: 'completed', value: 81 })
    const absent = await grid$(['task', 'get', `${owner.peerId}/t-0000000000000000`], other)
    expect(absent.code).toBe(1)
    expect(absent.stderr).toContain('ERR_TASK_NOT_FOUND')
  }, 60_000)

  it('grid session open / show / list / cancel, counts by status, through any member', async () => {
    const session = (await grid$(['session', 'open', '--session-name', 'batch'])).stdout.trim()
    expect(session).toMatch(new RegExp(`^${owner.peerId}/s-`))
    const quick = await Promise.all([2, 3].map(async n => (await grid$(['task', 'submit', task('square.mjs'), '--input', String(n), '--session', session])).stdout.trim()))
    const slow = (await grid$(['task', 'submit', task('cooperative.mjs'), '--input', '{"ms":20000}', '--session', session])).stdout.trim()
    for (const id of quick) expect((await grid$(['task', 'wait', id])).code).toBe(0)
    await eventually(async () => json<TaskJson>(await grid$(['task', 'get', slow])).status === 'running' ? true : undefined, 20_000, 300)

    const shown = json<SessionJson>(await grid$(['session', 'show', session, '--json'], other))
    expect(shown).toMatchObject({ id: session, name: 'batch', closed: false })
    expect(shown.counts).toMatchObject({ completed: 2, running: 1, queued: 0, failed: 0, cancelled: 0 })
    expect(shown.tasks.map(t => t.id).sort()).toEqual([...quick, slow].sort())
    // a shipped module shows as the file the user gave, not the owner's stored copy (kept as path in --json)
    const slowTask = shown.tasks.find(t => t.id === slow)!
    expect(slowTask.module).toBe(task('cooperative.mjs'))
    expect(slowTask.path).toMatch(/[/]tasks[/]modules[/][0-9a-f]{64}\.mjs$/)
    const shownTable = await grid$(['session', 'show', session], other)
    expect(shownTable.stdout).toMatch(new RegExp(`${slow}\\s+running\\s+1\\s+0\\s+${task('cooperative.mjs')}\\n`))
    expect(shownTable.stdout).not.toContain('tasks/modules')
    // a client sees the counts, but none of these tasks: it submitted none of them
    const asClient = await grid$(['session', 'show', session, '--json', '--name', 'client'], other)
    expect(asClient.code).toBe(1)
    expect(asClient.stderr).toContain('ERR_TASK_NOT_FOUND')
    const table = await grid$(['session', 'list'])
    expect(table.stdout).toMatch(new RegExp(`${session}\\s+batch\\s+open`))
    expect(table.stdout).toContain(`${owner.peerId}/s-default`)
    // a client is listed only the default session (and those it opened), and cannot submit into another's (through another member too)
    const clientTable = await grid$(['session', 'list', '--name', 'client'])
    expect(clientTable.stdout).toContain(`${owner.peerId}/s-default`)
    expect(clientTable.stdout).not.toContain(session)
    const intruder = await grid$(['task', 'submit', 'resize', '--input', '{"width":1}', '--session', session], other)
    expect(intruder.code).toBe(1)
    expect(intruder.stderr).toContain('ERR_TASK_NOT_FOUND')

    // a client may look, not cancel
    const refused = await grid$(['session', 'cancel', session, '--name', 'client'], other)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('ERR_FORBIDDEN')
    const cancelled = json<SessionJson & { cancelled: number }>(await grid$(['session', 'cancel', session, '--json'], other))
    expect(cancelled).toMatchObject({ id: session, closed: true, cancelled: 1 })
    expect(cancelled.counts).toMatchObject({ completed: 2, running: 0, cancelled: 1 })
    // closed and done: the owner forgets it (and its tasks), so nothing more goes into it
    const late = await grid$(['task', 'submit', task('square.mjs'), '--input', '1', '--session', session])
    expect(late.code).toBe(1)
    expect(late.stderr).toContain('ERR_TASK_NOT_FOUND')
  }, 90_000)

  it('bad input exits 2 naming it, before anything is sent', async () => {
    const badJson = await grid$(['task', 'run', 'resize', '--input', '{"width":'])
    expect(badJson.code).toBe(2)
    expect(badJson.stderr).toContain('--input')
    const badId = await grid$(['task', 'get', 'not-an-id'])
    expect(badId.code).toBe(2)
    expect(badId.stderr).toContain('"not-an-id" is not a task id')
  }, 30_000)

  it('a hand-made request gets a typed error, never a crash: not a request (ERR_PROTOCOL), a relay claimed by a client (ERR_FORBIDDEN)', async () => {
    const ask = async (certName: string, request: unknown): Promise<unknown> => {
      const client = await createClientLibp2p(await loadCerts(grid.dir, certName), pino({ level: 'silent' }))
      try {
        return await requestJson(client, multiaddr(`/ip4/127.0.0.1/tcp/${owner.port}/p2p/${owner.peerId}`), TASKS_PROTOCOL, request, v.unknown(), { signal: AbortSignal.timeout(10_000) })
      } finally {
        await client.stop()
      }
    }
    const since = owner.mark()
    expect(await ask('node', { op: 'run-everything' })).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL' } })
    expect(await ask('node', { op: 'get', id: 'x'.repeat(300) })).toMatchObject({ ok: false, error: { code: 'ERR_PROTOCOL' } })
    // counted and logged (rate-limited) as on every request protocol
    const logged = await owner.waitFor(l => l.msg === 'dropped a tasks request', 10_000, since)
    expect(logged).toMatchObject({ protocol: TASKS_PROTOCOL, rejected: 'malformed' })
    // only a member may say it relays for someone else
    const foreign = `${other.peerId}/t-0123456789abcdef`
    expect(await ask('client', { op: 'get', id: foreign, relay: { caller: other.peerId, roles: ['admin'] } })).toMatchObject({ ok: false, error: { code: 'ERR_FORBIDDEN' } })
    // and the owner still serves
    expect((await grid$(['task', 'run', 'resize', '--input', '{"width":1,"height":1,"scale":3}'])).stdout).toBe('{"width":3,"height":3}\n')
  }, 60_000)

  it('grid node --task with a missing module file exits 2 before starting', async () => {
    const res = await runGrid(['node', '--certs', grid.dir, '--name', 'n2', '--host', '127.0.0.1', '--port', '0', '--task', 'gone=./no-such-task.mjs'], { timeoutMs: 20_000 })
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('no-such-task.mjs')
  }, 30_000)
})
