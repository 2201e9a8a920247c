import { describe, it, expect, afterEach } from 'vitest'
import { Tasks } from '../../../src/tasks/tasks.ts'
import type { TasksService } from '../../../src/tasks/service.ts'
import type { TasksReply, TasksRequest } from '../../../src/tasks/protocol-schema.ts'
import type { WorkerHandle } from '../../../src/owner/worker-handle.ts'
import { ERR_NODE_STOPPED, ERR_TASK_CANCELLED } from '../../../src/errors.ts'
import { flush, silent } from '../pipeline/fake-worker.ts'
import { SQUARE, journaledOwners, memberService, until } from './journaled-owners.ts'

const member = 'member-peer'
const journal = journaledOwners('gridd-tasks-stop-')
const neverSpawns = async (): Promise<WorkerHandle> => await new Promise(() => {})
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const cleanup of cleanups.splice(0)) await cleanup() })

/** The tasks protocol over `tasks` (owner id "owner", as journaledOwners names it); `member` may submit and wait. */
async function serviceOver (tasks: Tasks): Promise<TasksService> {
  tasks.register('sq', SQUARE)
  return await memberService(tasks, member, cleanups)
}

const submit: TasksRequest = { op: 'submit', module: { kind: 'name', name: 'sq' }, input: 3 }

/** Its pool made (its first worker being spawned for good): the task waits in the pool's queue. */
const pooled = (tasks: Tasks): boolean => (tasks as unknown as { readyPools: Map<string, unknown> }).readyPools.size > 0

/**
 * Submits a task that stays queued, starts a wait on it, then stops the owner (`pooled`: once the task is in its
 * pool; else at once, its pool still being made): the wait's answer.
 */
async function waitAcrossStop (tasks: Tasks, stop: () => Promise<void>, inPool = true): Promise<{ id: string, reply: TasksReply }> {
  const svc = await serviceOver(tasks)
  const submitted = await svc.serve(member, submit)
  if (!submitted.ok) throw new Error(`submit failed: ${JSON.stringify(submitted)}`)
  const waiting = svc.serve(member, { op: 'wait', id: submitted.id!, timeoutMs: 60_000 })
  if (inPool) await until(() => pooled(tasks))
  await flush()
  expect(tasks.getTask(submitted.id!)?.status).toBe('queued')
  await stop()
  return { id: submitted.id!, reply: await waiting }
}

describe('a wait in flight when its owner stops gracefully', () => {
  /**
   * It was answered { ok: true, task: { status: 'cancelled' } }: `grid task wait` printed "ended cancelled … the node
   * is stopping" and exited 1, while the journal still held the task, which the next start ran.
   */
  it('on a durable owner: a retryable ERR_NODE_STOPPED, not a final status; the next start resumes the task', async () => {
    const first = await journal.start(neverSpawns, {})
    const { id, reply } = await waitAcrossStop(first, async () => { await journal.stop(first) })
    expect(reply.ok).toBe(false)
    if (reply.ok) return
    expect(reply.error).toMatchObject({ code: ERR_NODE_STOPPED, retryable: true })
    expect(reply.error.message).toContain(id)

    const second = await journal.start(neverSpawns, {})
    expect(second.getTask(id)?.status).toBe('queued')
  })

  /** Its pool, still being made as the stop began, failed it "the node is stopping", and that was journaled: lost for good. */
  it('on a durable owner, a task whose pool was still being made: the same, and the journal still holds it open', async () => {
    const first = await journal.start(neverSpawns, {})
    const { id, reply } = await waitAcrossStop(first, async () => { await journal.stop(first) }, false)
    expect(reply).toMatchObject({ ok: false, error: { code: ERR_NODE_STOPPED, retryable: true } })
    const second = await journal.start(neverSpawns, {})
    expect(second.getTask(id)?.status).toBe('queued')
  })

  it('on an owner without a journal the task is lost: answered cancelled, as it ended', async () => {
    const tasks = new Tasks('owner', { spawn: neverSpawns, capacity: (_r, limit) => limit, log: silent }, { sizeEveryMs: 60_000 })
    await tasks.start()
    const { reply } = await waitAcrossStop(tasks, async () => { await tasks.stop() })
    expect(reply).toMatchObject({ ok: true, task: { status: 'cancelled', error: { code: ERR_TASK_CANCELLED } } })
  })
})
