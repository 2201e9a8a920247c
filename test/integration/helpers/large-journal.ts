import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Journal } from '../../../src/tasks/journal.ts'
import { pack } from '../../unit/tasks/journal-batches.ts'
import type { NewRow } from '../../unit/tasks/journal-batches.ts'

const OWNER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const PER_BATCH = 10_000

/** A task journal at `file` (its dir made 0700) holding `rows` completed tasks of one open session: slow to read back. */
export async function writeLargeJournal (file: string, rows: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const journal = Journal.open(file)
  try {
    const now = Date.now()
    const session = `${OWNER}/s-large`
    const input = JSON.stringify('x'.repeat(500))
    for (let first = 0; first < rows; first += PER_BATCH) {
      const tasks: NewRow[] = []
      for (let i = first; i < Math.min(rows, first + PER_BATCH); i++) {
        tasks.push({ id: `${OWNER}/t-${i}`, session, module: 'square.mjs', path: '/srv/square.mjs', input, resources: null, priority: 0, maxRetries: 3, status: 'completed', attempts: 1, submittedAt: now, endedAt: now, error: null, result: '1' })
      }
      const sessions = first === 0 ? [{ id: session, name: 'large', maxRetries: 3, priority: 0, closed: false, createdAt: now }] : []
      journal.commit(pack({ sessions, newTasks: tasks }, first + 1))
    }
  } finally {
    journal.close()
  }
}
