import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { fileURLToPath } from 'node:url'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { TasksService } from '../../../src/tasks/service.ts'
import { MAX_REMOTE_SESSIONS, MAX_REMOTE_SESSIONS_PER_CALLER } from '../../../src/tasks/submit-budget.ts'
import type { TasksReply, TasksRequest } from '../../../src/tasks/protocol-schema.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import type { SubmitLimits } from '../../../src/tasks/submit-budget.ts'

const square = fileURLToPath(new URL('../../fixtures/tasks/square.mjs', import.meta.url))
const log = pino({ level: 'silent' })
const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

describe('TasksService (the tasks protocol, components stubbed)', () => {
  let self: string, remoteOwner: string, client: string, member: string, admin: string
  const stops: Array<() => Promise<void>> = []

  beforeAll(async () => {
    [self, remoteOwner, client, member, admin] = await Promise.all([newPeer(), newPeer(), newPeer(), newPeer(), newPeer()])
  })
  afterEach(async () => { for (const stop of stops.splice(0)) await stop() })

  /** A service over real Tasks whose pools never get a worker (no capacity): tasks stay queued until cancelled. */
  async function service (submitLimits?: SubmitLimits): Promise<{ svc: TasksService, tasks: Tasks, forwarded: Array<[string, TasksRequest]>, dataDir: string }> {
    const credentials = new PeerCredentials()
    const grant = (peer: string, roles: Role[]): void => { credentials.record(peer, { name: 'x', serial: '1', roles: new Set(roles), notAfter: Number.MAX_SAFE_INTEGER }) }
    grant(client, ['client']); grant(member, ['member']); grant(admin, ['admin'])
    const tasks = new Tasks(self, { spawn: async () => await new Promise(() => {}), capacity: () => 0, log }, { sizeEveryMs: 60_000 })
    tasks.register('sq', square)
    const dataDir = await mkdtemp(join(tmpdir(), 'gridd-tasks-svc-'))
    stops.push(async () => { await tasks.stop(); await rm(dataDir, { recursive: true, force: true }) })
    const forwarded: Array<[string, TasksRequest]> = []
    const forward = async (owner: string, request: TasksRequest): Promise<TasksReply> => { forwarded.push([owner, request]); return { ok: true, id: 'relayed' } }
    return { svc: new TasksService({ tasks, self, credentials, dataDir, prepareDataDir: async () => {}, forward, log, rejections: new Rejections(log), submitLimits }), tasks, forwarded, dataDir }
  }

  const submitName = { op: 'submit', module: { kind: 'name', name: 'sq' }, input: 3 } as const
  const errorCode = (reply: TasksReply): string | undefined => reply.ok ? undefined : reply.error.code

  it('records the submitter; a client acts only on its own tasks, a member or an admin on any', async () => {
    const { svc } = await service()
    const mine = await svc.serve(client, submitName)
    const theirs = await svc.serve(member, submitName)
    if (!mine.ok || !theirs.ok) throw new Error('submit failed')
    expect(mine.task?.submitter).toBe(client)
    expect((await svc.serve(client, { op: 'get', id: mine.id! })).ok).toBe(true)
    expect(errorCode(await svc.serve(client, { op: 'get', id: theirs.id! }))).toBe('ERR_FORBIDDEN')
    expect(errorCode(await svc.serve(client, { op: 'cancel', id: theirs.id! }))).toBe('ERR_FORBIDDEN')
    const cancelled = await svc.serve(admin, { op: 'cancel', id: theirs.id! })
    expect(cancelled.ok && cancelled.task?.status).toBe('cancelled')
    expect((await svc.serve(member, { op: 'get', id: mine.id! })).ok).toBe(true)
  })

  it('ships code only for a member: a client gets ERR_FORBIDDEN; the bundle is stored by its hash; a wrong hash is refused', async () => {
    const { svc, dataDir, tasks } = await service()
    expect(tasks.overview().moduleCacheBytes).toBe(0)
    const source = 'export default (n) => n + 1\n'
    const module = { kind: 'source', path: '/elsewhere/inc.mjs', sha256: sha256(source), source } as const
    expect(errorCode(await svc.serve(client, { op: 'submit', module }))).toBe('ERR_FORBIDDEN')
    const submitted = await svc.serve(member, { op: 'submit', module })
    // shown as what the submitter gave (grid session show, grid task get); run from the stored copy, its path
    expect(submitted.ok && submitted.task?.module).toBe('/elsewhere/inc.mjs')
    expect(submitted.ok && submitted.task?.path).toBe(join(dataDir, 'tasks', 'modules', `${sha256(source)}.mjs`))
    const shown = await svc.serve(member, { op: 'session-show', id: submitted.ok ? submitted.task!.session : '' })
    expect(shown.ok && shown.tasks?.find(t => t.id === (submitted.ok ? submitted.id : ''))).toMatchObject({ module: '/elsewhere/inc.mjs', path: join(dataDir, 'tasks', 'modules', `${sha256(source)}.mjs`) })
    expect(await readdir(join(dataDir, 'tasks', 'modules'))).toEqual([`${sha256(source)}.mjs`])
    // what it holds on disk is reported (gridd_task_module_cache_bytes), in whole 4 KiB blocks as its quota counts it
    expect(tasks.overview().moduleCacheBytes).toBe(4096)
    expect(errorCode(await svc.serve(member, { op: 'submit', module: { ...module, sha256: sha256('other') } }))).toBe('ERR_PROTOCOL')
  })

  it('bounds what one remote submitter holds open (tasks and input bytes); room comes back as its tasks end', async () => {
    const { svc } = await service({ tasks: 2, bytes: 1000 })
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const reply = await svc.serve(client, submitName)
      if (!reply.ok) throw new Error('submit failed')
      ids.push(reply.id!)
    }
    expect(errorCode(await svc.serve(client, submitName))).toBe('ERR_TASK_LIMIT')
    // another submitter has room of its own
    expect((await svc.serve(member, submitName)).ok).toBe(true)
    expect(errorCode(await svc.serve(member, { ...submitName, input: 'x'.repeat(1000) }))).toBe('ERR_TASK_LIMIT')
    // a task that ends gives its room back; a refused submit took none
    expect((await svc.serve(client, { op: 'cancel', id: ids[0]! })).ok).toBe(true)
    expect(errorCode(await svc.serve(client, { ...submitName, module: { kind: 'name', name: 'nope' } }))).toBe('ERR_TASK_NOT_REGISTERED')
    expect((await svc.serve(client, submitName)).ok).toBe(true)
    expect(errorCode(await svc.serve(client, submitName))).toBe('ERR_TASK_LIMIT')
  })

  it('a submitter that submits and cancels in a loop while no worker can start leaves nothing held: its cancelled tasks leave the pool\'s queue', async () => {
    const { svc, tasks } = await service({ tasks: 1, bytes: 1_000_000 })
    const input = 'x'.repeat(10_000)
    for (let i = 0; i < 200; i++) {
      const reply = await svc.serve(client, { ...submitName, input })
      if (!reply.ok) throw new Error('submit failed')
      expect((await svc.serve(client, { op: 'cancel', id: reply.id! })).ok).toBe(true)
    }
    // the budget gave the room back each time: what the pool still holds must not grow with every cancelled task (and its input)
    const pools = [...(tasks as unknown as { readyPools: Map<string, { queued: number }> }).readyPools.values()]
    expect(pools.reduce((sum, pool) => sum + pool.queued, 0)).toBe(0)
  })

  it('bounds what all remote submitters hold open together: a member relaying for callers it makes up gets no more room than that', async () => {
    const { svc } = await service({ tasks: 2, bytes: 1000, totalTasks: 5, totalBytes: 1_000_000 })
    // a member may vouch for any caller; each made-up caller would otherwise come with a budget of its own
    const callers = await Promise.all(Array.from({ length: 10 }, newPeer))
    const codes: Array<string | undefined> = []
    for (const caller of callers) {
      for (let i = 0; i < 2; i++) codes.push(errorCode(await svc.serve(member, { ...submitName, relay: { caller, roles: ['client'] } })))
    }
    expect(codes.filter(code => code == null).length).toBe(5)
    expect(codes.filter(code => code != null).every(code => code === 'ERR_TASK_LIMIT')).toBe(true)
  })

  it('what the node resumed through the HTTP API (api: submitters and openers) is on no protocol peer\'s budget, nor on all peers\' together', async () => {
    const { svc, tasks } = await service({ tasks: 2, bytes: 1000, totalTasks: 2, totalBytes: 1000 })
    // as a journal resumes them: the API's tasks, and as many API sessions as all callers may hold here
    for (let i = 0; i < 3; i++) tasks.submit('sq', 'x'.repeat(600), { submitter: `api:s${i}` })
    for (let i = 0; i < MAX_REMOTE_SESSIONS; i++) tasks.session({}, undefined, false, `api:s${i % 4}`)
    // and a protocol peer's, which does count
    tasks.submit('sq', 1, { submitter: client })
    svc.holdResumed()
    expect((await svc.serve(member, submitName)).ok).toBe(true)
    expect((await svc.serve(member, { op: 'session-open' })).ok).toBe(true)
    expect(errorCode(await svc.serve(member, submitName))).toBe('ERR_TASK_LIMIT')
  })

  it('a wait that times out takes its listener off the task (a caller waiting in a loop on a long task); one pending when the task ends returns then', async () => {
    const { svc, tasks } = await service()
    const submitted = await svc.serve(client, submitName)
    if (!submitted.ok) throw new Error('submit failed')
    for (let i = 0; i < 50; i++) expect(await svc.serve(client, { op: 'wait', id: submitted.id!, timeoutMs: 1 })).toMatchObject({ ok: true, task: { status: 'queued' } })
    const task = tasks.getTask(submitted.id!)!
    expect((task as unknown as { settleListeners?: Set<unknown> }).settleListeners?.size ?? 0).toBe(0)
    // a wait still pending when the task ends returns then
    const waiting = svc.serve(client, { op: 'wait', id: submitted.id!, timeoutMs: 60_000 })
    await svc.serve(client, { op: 'cancel', id: submitted.id! })
    expect(await waiting).toMatchObject({ ok: true, task: { status: 'cancelled' } })
  })

  it('runs only registered names: another name is not looked up as a path', async () => {
    const { svc } = await service()
    expect(errorCode(await svc.serve(member, { op: 'submit', module: { kind: 'name', name: 'square.mjs' } }))).toBe('ERR_TASK_NOT_REGISTERED')
  })

  it('forwards an id of another owner once, with the caller; a relayed request is never forwarded again', async () => {
    const { svc, forwarded } = await service()
    const id = `${remoteOwner}/t-0123456789abcdef`
    expect(await svc.serve(client, { op: 'get', id })).toEqual({ ok: true, id: 'relayed' })
    expect(forwarded).toEqual([[remoteOwner, { op: 'get', id, relay: { caller: client, roles: ['client'] } }]])
    // from a member relaying: not passed on (no loops)
    expect(errorCode(await svc.serve(member, { op: 'get', id, relay: { caller: client, roles: ['client'] } }))).toBe('ERR_TASK_NOT_FOUND')
    expect(forwarded.length).toBe(1)
  })

  it('believes a relayed caller only from a member, and applies the rules to that caller', async () => {
    const { svc } = await service()
    const theirs = await svc.serve(member, submitName)
    if (!theirs.ok) throw new Error('submit failed')
    // a client cannot claim to relay for an admin
    expect(errorCode(await svc.serve(client, { op: 'cancel', id: theirs.id!, relay: { caller: admin, roles: ['admin'] } }))).toBe('ERR_FORBIDDEN')
    // a member relaying a client's cancel of someone else's task: refused as for the client
    expect(errorCode(await svc.serve(member, { op: 'cancel', id: theirs.id!, relay: { caller: client, roles: ['client'] } }))).toBe('ERR_FORBIDDEN')
    expect(errorCode(await svc.serve(member, { op: 'get', id: theirs.id!, relay: { caller: member, roles: ['member'] } }))).toBeUndefined()
  })

  it('session ops: a client lists and shows (its own tasks only), only members and admins open, close and cancel; the default session stays open', async () => {
    const { svc, tasks } = await service()
    expect(errorCode(await svc.serve(client, { op: 'session-open', name: 'x' }))).toBe('ERR_FORBIDDEN')
    const opened = await svc.serve(member, { op: 'session-open', name: 'batch' })
    if (!opened.ok) throw new Error('open failed')
    await svc.serve(member, { ...submitName, session: opened.id })
    // a member's session is to a client as a missing id (not even its name and counts)
    expect(errorCode(await svc.serve(client, { op: 'session-show', id: opened.id! }))).toBe('ERR_TASK_NOT_FOUND')
    expect((await svc.serve(member, { op: 'session-show', id: opened.id! })).ok).toBe(true)
    const defaultId = `${self}/s-default`
    await svc.serve(member, { ...submitName, session: defaultId })
    const own = await svc.serve(client, { ...submitName, session: defaultId })
    if (!own.ok) throw new Error('submit failed')
    const mine = await svc.serve(client, { op: 'session-show', id: defaultId })
    expect(mine.ok && [mine.session?.counts.queued, mine.tasks?.map(t => t.id)]).toEqual([2, [own.id]])
    const all = await svc.serve(member, { op: 'session-show', id: defaultId })
    expect(all.ok && all.tasks?.length).toBe(2)
    expect(errorCode(await svc.serve(client, { op: 'session-cancel', id: opened.id! }))).toBe('ERR_FORBIDDEN')
    const cancelled = await svc.serve(admin, { op: 'session-cancel', id: defaultId })
    expect(cancelled.ok && [cancelled.cancelled, cancelled.session?.closed, cancelled.session?.counts.cancelled]).toEqual([2, false, 2])
    expect(errorCode(await svc.serve(member, { op: 'session-close', id: defaultId }))).toBe('ERR_CONFIG')
    expect(tasks.getSession(defaultId)?.isClosed).toBe(false)
    const listed = await svc.serve(member, { op: 'session-list' })
    expect(listed.ok && listed.sessions?.map(s => s.name).sort()).toEqual(['batch', 'default'])
  })

  /**
   * Any client could submit into any session (an HTTP API client's private one too, whose owner then saw
   * the intruder's task in its events and could cancel it), and session-list gave every client all ids.
   */
  it('a client submits into and lists only the default session and those it opened: another\'s is as missing', async () => {
    const { svc, tasks } = await service()
    const opened = await svc.serve(member, { op: 'session-open', name: 'batch' })
    if (!opened.ok) throw new Error('open failed')
    const apiPrivate = tasks.session({ name: 'api-private' }, undefined, false, 'api:alice')
    const itsOwn = tasks.session({ name: 'its-own' }, undefined, false, client)
    for (const id of [opened.id!, apiPrivate.id]) {
      expect(errorCode(await svc.serve(client, { ...submitName, session: id }))).toBe('ERR_TASK_NOT_FOUND')
      // relayed by a member for the client: the same
      expect(errorCode(await svc.serve(member, { ...submitName, session: id, relay: { caller: client, roles: ['client'] } }))).toBe('ERR_TASK_NOT_FOUND')
    }
    // as a session that does not exist: nothing to tell them apart
    const missing = await svc.serve(client, { ...submitName, session: `${self}/s-0000000000000000` })
    expect(errorCode(missing)).toBe('ERR_TASK_NOT_FOUND')
    expect(apiPrivate.tasks()).toEqual([])
    expect(opened.session?.counts.queued).toBe(0)
    expect((await svc.serve(client, { ...submitName, session: itsOwn.id })).ok).toBe(true)
    expect((await svc.serve(client, { ...submitName, session: `${self}/s-default` })).ok).toBe(true)
    const listed = await svc.serve(client, { op: 'session-list' })
    expect(listed.ok && listed.sessions?.map(s => s.name).sort()).toEqual(['default', 'its-own'])
    // members and admins: any session, all listed
    expect((await svc.serve(member, { ...submitName, session: apiPrivate.id })).ok).toBe(true)
    const all = await svc.serve(admin, { op: 'session-list' })
    expect(all.ok && all.sessions?.map(s => s.name).sort()).toEqual(['api-private', 'batch', 'default', 'its-own'])
  })

  it('sessions opened remotely: at most 64 per caller, so one member cannot take the 256 all callers share; room comes back as one is closed and done', async () => {
    const { svc } = await service()
    const open = async (peer: string): Promise<TasksReply> => await svc.serve(peer, { op: 'session-open', name: 'many' })
    const mine: string[] = []
    for (let i = 0; i < MAX_REMOTE_SESSIONS_PER_CALLER; i++) {
      const reply = await open(member)
      if (!reply.ok) throw new Error(`open ${i} failed: ${JSON.stringify(reply)}`)
      mine.push(reply.id!)
    }
    expect(errorCode(await open(member))).toBe('ERR_TASK_LIMIT')
    // another caller still has its share
    expect((await open(admin)).ok).toBe(true)
    // a closed session with no task is done: its room is the member's again
    expect((await svc.serve(member, { op: 'session-close', id: mine[0]! })).ok).toBe(true)
    await new Promise(resolve => setTimeout(resolve, 10))
    expect((await open(member)).ok).toBe(true)
  })
})
