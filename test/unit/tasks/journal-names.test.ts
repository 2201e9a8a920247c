import { it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Journal, JOURNAL_FILE } from '../../../src/tasks/journal.ts'
import { pack } from './journal-batches.ts'
import type { NewRow } from './journal-batches.ts'

let dir: string | undefined

afterEach(async () => {
  if (dir != null) await rm(dir, { recursive: true, force: true })
})

it('names no task row uses any more (shipped modules of tasks long forgotten) leave the table, which stays within twice those in use', async () => {
  dir = await mkdtemp(join(tmpdir(), 'gridd-journal-names-'))
  const file = join(dir, JOURNAL_FILE)
  const journal = Journal.open(file)
  const session = { id: 'o/s-1', name: 's', maxRetries: 0, priority: 0, closed: false, createdAt: 1 }
  // a member shipping a new version of its task module every round: each is a module and a path of its own
  const perRound = 600
  let rowid = 1
  for (let round = 0; round < 10; round++) {
    const tasks: NewRow[] = []
    for (let i = 0; i < perRound; i++) {
      const version = `${round}-${i}`
      tasks.push({ id: `o/t-${version}`, session: 'o/s-1', module: `/data/tasks/modules/${version}.mjs`, path: `/data/tasks/modules/${version}.mjs#path`, input: null, resources: null, priority: 0, maxRetries: 0, status: 'completed', attempts: 1, submittedAt: 1, endedAt: 10 + round, error: null, result: null })
    }
    journal.commit(pack({ sessions: round === 0 ? [session] : [], newTasks: tasks }, rowid))
    rowid += perRound
    // the sweep forgets what ended before the result TTL
    journal.commit(pack({ forgetEndedBefore: 11 + round }))
  }
  journal.close()
  const db = new DatabaseSync(file)
  const names = (db.prepare('SELECT count(*) AS n FROM names').get() as { n: number }).n
  const tasks = (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n
  db.close()
  expect(tasks).toBe(0)
  // 12,001 names were made over the rounds (two a task, and the owner's); at most twice a round's stay (pruned
  // once the table doubled): rounds long forgotten leave none behind
  expect(names).toBeLessThanOrEqual(2 * (2 * perRound + 1))
})
