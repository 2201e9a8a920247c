import { beforeEach, afterEach, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Tasks } from '../../../src/tasks/tasks.ts'
import type { TasksConfig } from '../../../src/tasks/config.ts'
import { JOURNAL_FILE } from '../../../src/tasks/journal.ts'
import type { WorkerHandle } from '../../../src/owner/worker-handle.ts'
import { TasksService } from '../../../src/tasks/service.ts'
import type { TasksReply } from '../../../src/tasks/protocol-schema.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { flush, silent } from '../pipeline/fake-worker.ts'

// a real file (pools check the module path); the fake workers never load it
export const SQUARE = fileURLToPath(new URL('../../fixtures/tasks/square.mjs', import.meta.url))

export interface JournaledOwners {
  /** This test's journal file (in a temp dir of its own). */
  readonly file: string
  /**
   * An owner's tasks service on workers `spawn` gives, journaling to `file`; stopped after the test. `prepare`:
   * what its journal awaits before it opens the file (the data dir's preparation), by default nothing.
   */
  start: (spawn: () => Promise<WorkerHandle>, config: Partial<TasksConfig>, prepare?: () => Promise<void>) => Promise<Tasks>
  /** Stops an owner the way a crash leaves its journal: what was committed stays, nothing is cancelled there. */
  stop: (tasks: Tasks) => Promise<void>
}

/** Per test: a temp dir for the journal, and the owners started on it stopped (the dir removed) after it. */
export function journaledOwners (prefix: string): JournaledOwners {
  let dir = ''
  let running: Tasks[] = []
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), prefix)) })
  afterEach(async () => {
    await Promise.all(running.map(async t => { await t.stop() }))
    running = []
    await rm(dir, { recursive: true, force: true })
  })
  return {
    get file () { return join(dir, JOURNAL_FILE) },
    async start (spawn, config, prepare = async () => {}) {
      const tasks = new Tasks('owner', { spawn, capacity: (_r, limit) => limit, log: silent }, { sizeEveryMs: 60_000, ...config }, { file: join(dir, JOURNAL_FILE), prepare })
      running.push(tasks)
      await tasks.start()
      return tasks
    },
    async stop (tasks) {
      running = running.filter(t => t !== tasks)
      await tasks.stop()
    }
  }
}

/** Lets settlements (and the pool's file checks) run until `check` holds, for at most 10 s: a test that never gets there fails, not hangs. */
export async function until (check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check() && Date.now() < deadline) await flush()
  expect(check()).toBe(true)
}

/**
 * The tasks protocol over `tasks` (owner id "owner", as journaledOwners names it), where peer `member`
 * holds the member role; its data dir is removed by what is pushed to `cleanups`.
 */
export async function memberService (tasks: Tasks, member: string, cleanups: Array<() => Promise<void>>): Promise<TasksService> {
  const credentials = new PeerCredentials()
  credentials.record(member, { name: 'm', serial: '1', roles: new Set(['member']), notAfter: Number.MAX_SAFE_INTEGER })
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-tasks-svc-'))
  cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const forward = async (): Promise<TasksReply> => { throw new Error('nothing is forwarded here') }
  return new TasksService({ tasks, self: 'owner', credentials, dataDir, prepareDataDir: async () => {}, forward, log: silent, rejections: new Rejections(silent) })
}
