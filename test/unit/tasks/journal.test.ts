import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Journal, JOURNAL_FILE, WAL_LIMIT_BYTES } from '../../../src/tasks/journal.ts'
import type { SessionRow } from '../../../src/tasks/journal.ts'
import { pack } from './journal-batches.ts'
import type { Batch, NewRow } from './journal-batches.ts'
import { ERR_JOURNAL, JournalError } from '../../../src/errors.ts'

let dir: string
let file: string
const open: Journal[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gridd-journal-'))
  file = join(dir, JOURNAL_FILE)
  nextRowid = 1
})

afterEach(async () => {
  for (const j of open.splice(0)) j.close()
  await rm(dir, { recursive: true, force: true })
})

function journal (): Journal {
  const j = Journal.open(file)
  open.push(j)
  return j
}

const session = (over: Partial<SessionRow> = {}): SessionRow => ({ id: 'o/s-1', name: 'batch', maxRetries: 2, timeoutMs: 500, priority: 1, closed: false, createdAt: 1000, ...over })
const task = (id: string, over: Partial<NewRow> = {}): NewRow => ({
  id, session: 'o/s-1', module: 'square.mjs', path: '/srv/square.mjs', input: '{"n":7}', resources: null, priority: 0, maxRetries: 3,
  status: 'queued', attempts: 0, submittedAt: 2000, error: null, result: null, ...over
})
/** A packed batch; its new tasks numbered on from the last (as the recorder numbers them). */
let nextRowid = 1
const batch = (b: Batch): ReturnType<typeof pack> => {
  const packed = pack(b, nextRowid)
  nextRowid += b.newTasks?.length ?? 0
  return packed
}

describe('Journal (tasks.sqlite)', () => {
  it('is created mode 0600 (its log too) and gives back what was committed, after a reopen', async () => {
    const j = journal()
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    j.commit(batch({ sessions: [session()], newTasks: [task('o/t-1'), task('o/t-2', { timeoutMs: 250.5, resources: '{"cpu":2}', submitter: '12D3KooWSubmitter' })] }))
    // SQLite gives its write-ahead log the database's mode
    expect((await stat(`${file}-wal`)).mode & 0o777).toBe(0o600)
    j.commit(batch({ changedTasks: [{ rowid: 1, status: 'completed', attempts: 1, agent: 'A', startedAt: 2100, endedAt: 2200, error: null, result: '49' }] }))
    j.close()
    const again = journal()
    // the recorder numbers the rows of new tasks on from the last
    expect(again.nextRowid()).toBe(3)
    const back = again.load()
    expect(back.unreadable).toBe(0)
    expect(back.sessions).toEqual([session()])
    expect(back.tasks).toEqual([
      { rowid: 1, ...task('o/t-1', { status: 'completed', attempts: 1, agent: 'A', startedAt: 2100, endedAt: 2200, result: '49' }) },
      { rowid: 2, ...task('o/t-2', { timeoutMs: 250.5, resources: '{"cpu":2}', submitter: '12D3KooWSubmitter' }) }
    ])
  })

  it('writes a batch of many tasks (in statements of many rows, and one by one for the rest) with every field where it belongs', () => {
    const j = journal()
    const many = Array.from({ length: 70 }, (_, i) => task(`o/t-${i}`, { input: `{"n":${i}}`, priority: i % 3, agent: i % 2 === 0 ? 'A' : undefined, submitter: i % 5 === 0 ? 'S' : undefined, ...(i % 7 === 0 ? {} : { countedLosses: i % 3, excusedLosses: i % 4 }) }))
    j.commit(batch({ sessions: [session()], newTasks: many }))
    expect(j.load().tasks).toEqual(many.map((t, i) => ({ rowid: i + 1, ...t })))
  })

  it('updates a batch of many tasks (in statements of many rows, and one by one for the rest) with every field where it belongs', () => {
    const j = journal()
    const many = Array.from({ length: 70 }, (_, i) => task(`o/t-${i}`, { input: `{"n":${i}}` }))
    j.commit(batch({ sessions: [session()], newTasks: many }))
    const ended = (i: number): boolean => i % 4 !== 3
    const changes = many.map((_, i) => ({
      rowid: i + 1, status: ended(i) ? (i % 4 === 1 ? 'failed' as const : 'completed' as const) : 'running' as const, attempts: 1 + (i % 3),
      agent: i % 2 === 0 ? 'A' : 'B', startedAt: 3000 + i, endedAt: ended(i) ? 4000 + i : undefined,
      error: i % 4 === 1 ? `{"name":"Error","message":"no ${i}"}` : null, result: i % 4 === 0 ? `${i * i}` : null,
      countedLosses: i % 3, excusedLosses: i % 5 === 0 ? undefined : i % 4
    }))
    // a task the batch does not name is left as it was
    j.commit(batch({ changedTasks: changes.filter((_, i) => i !== 40) }))
    expect(j.load().tasks).toEqual(many.map((t, i) => {
      const { rowid, ...change } = changes[i]!
      return { rowid, ...t, ...(i === 40 ? {} : change) }
    }))
  })

  it('updates only a session\'s closed flag; a dropped session goes with its tasks; ended tasks are forgotten by time', () => {
    const j = journal()
    j.commit(batch({ sessions: [session(), session({ id: 'o/s-2' })], newTasks: [task('a'), task('b', { session: 'o/s-2' }), task('c', { session: 'o/s-2', status: 'completed', endedAt: 100 })] }))
    j.commit(batch({ sessions: [session({ closed: true, name: 'ignored' })], droppedSessions: ['o/s-2'] }))
    expect(j.load()).toEqual({ sessions: [session({ closed: true })], tasks: [{ rowid: 1, ...task('a') }], unreadable: 0 })
    j.commit(batch({ newTasks: [task('old', { status: 'failed', endedAt: 100 }), task('new', { status: 'completed', endedAt: 300 })], forgetEndedBefore: 200 }))
    expect(j.load().tasks.map(t => t.id)).toEqual(['a', 'new'])
  })

  it('its write-ahead log shrinks back under its limit after a burst (one batch of large results), rather than stay at its peak', async () => {
    const j = journal()
    const large = JSON.stringify('x'.repeat(1024 * 1024))
    j.commit(batch({ sessions: [session()], newTasks: Array.from({ length: 40 }, (_, i) => task(`big-${i}`, { status: 'completed', endedAt: 100, result: large })) }))
    expect((await stat(`${file}-wal`)).size).toBeGreaterThan(WAL_LIMIT_BYTES)
    // checkpointed at that commit; the next write starts the log over, and cuts it back
    j.commit(batch({ newTasks: [task('small')], forgetEndedBefore: 200 }))
    expect((await stat(`${file}-wal`)).size).toBeLessThanOrEqual(WAL_LIMIT_BYTES)
  })

  it('a field shared with the task before is packed once, and read back for every task (sessions, modules, agents, submitters interleaved)', () => {
    const j = journal()
    const rows = [
      task('a', { agent: 'A', submitter: 'S' }), task('b', { agent: 'A', submitter: 'S' }), task('c', { session: 'o/s-2', module: 'm2', path: '/m2', agent: 'B' }),
      task('d', { agent: 'B', submitter: 'S' }), task('e')
    ]
    const packed = batch({ sessions: [session(), session({ id: 'o/s-2' })], newTasks: rows })
    // b's session, module, path, agent and submitter are a's (and its owner part: none)
    expect(packed.insertTexts.slice(11, 22)).toEqual(['b', true, true, true, '{"n":7}', null, true, null, null, true, true])
    j.commit(packed)
    j.commit(batch({ changedTasks: ['A', 'A', null, 'B'].map((agent, i) => ({ rowid: i + 1, status: 'dispatched' as const, attempts: 1, agent: agent ?? undefined, error: null, result: null })) }))
    expect(j.load().tasks.map(t => [t.id, t.session, t.module, t.path, t.agent, t.submitter])).toEqual([
      ['a', 'o/s-1', 'square.mjs', '/srv/square.mjs', 'A', 'S'], ['b', 'o/s-1', 'square.mjs', '/srv/square.mjs', 'A', 'S'], ['c', 'o/s-2', 'm2', '/m2', undefined, undefined],
      ['d', 'o/s-1', 'square.mjs', '/srv/square.mjs', 'B', 'S'], ['e', 'o/s-1', 'square.mjs', '/srv/square.mjs', undefined, undefined]
    ])
  })

  it('an id\'s owner part is packed once for the tasks that share it, and read back for each (owners interleaved, and none)', () => {
    const j = journal()
    const ids = ['o/t-1', 'o/t-2', 'p/t-3', 'x', 'o/t-4']
    const packed = batch({ sessions: [session()], newTasks: ids.map(id => task(id)) })
    expect(packed.insertTexts.filter((_, i) => i % 11 === 0)).toEqual(['t-1', 't-2', 't-3', 'x', 't-4'])
    expect(packed.insertTexts.filter((_, i) => i % 11 === 10)).toEqual(['o', true, 'p', null, 'o'])
    j.commit(packed)
    expect(j.load().tasks.map(t => t.id)).toEqual(ids)
  })

  it('a batch is all or nothing', () => {
    const j = journal()
    j.commit(batch({ sessions: [session()] }))
    // the second row breaks a NOT NULL column: the first is rolled back with it
    const broken = { ...task('y'), module: null } as unknown as NewRow
    expect(() => { j.commit(batch({ newTasks: [task('x'), broken] })) }).toThrow()
    expect(j.load().tasks).toEqual([])
    j.commit(batch({ newTasks: [task('x')] }))
    expect(j.load().tasks.map(t => t.id)).toEqual(['x'])
  })

  it('keeps task rows narrow: the owner part of ids, modules, paths and agents are numbers in a table of names', () => {
    const j = journal()
    j.commit(batch({ sessions: [session()], newTasks: [task('o/t-1', { agent: 'A' }), task('o/t-2')] }))
    j.close()
    const db = new DatabaseSync(file)
    expect(db.prepare('SELECT id, typeof(owner) AS owner, typeof(session) AS session, typeof(module) AS module, typeof(path) AS path, typeof(agent) AS agent FROM tasks ORDER BY rowid').all().map(r => ({ ...r })))
      .toEqual([{ id: 't-1', owner: 'integer', session: 'integer', module: 'integer', path: 'integer', agent: 'integer' }, { id: 't-2', owner: 'integer', session: 'integer', module: 'integer', path: 'integer', agent: 'null' }])
    expect(db.prepare('SELECT name FROM names ORDER BY id').all().map(r => r.name)).toEqual(['o', 'square.mjs', '/srv/square.mjs', 'A'])
    db.close()
  })

  it('a batch rolled back leaves nothing behind in its maps: a task of a session that was not written is refused', () => {
    const j = journal()
    const broken = { ...task('y', { session: 'o/s-9' }), module: null } as unknown as NewRow
    expect(() => { j.commit(batch({ sessions: [session({ id: 'o/s-9' })], newTasks: [broken] })) }).toThrow()
    expect(() => { j.commit(batch({ newTasks: [task('z', { session: 'o/s-9' })] })) }).toThrow(JournalError)
    expect(j.load()).toEqual({ sessions: [], tasks: [], unreadable: 0 })
  })

  it('refuses a second opener while it is open (two owners must not resume the same tasks)', () => {
    journal()
    const err = (() => { try { Journal.open(file); return undefined } catch (e) { return e } })()
    expect(err).toBeInstanceOf(JournalError)
    expect(err).toMatchObject({ code: ERR_JOURNAL, path: file })
    expect((err as Error).message).toContain('in use by another process')
    expect((err as Error).message).toMatch(/another --data-dir/)
    expect((err as Error).message).not.toMatch(/move it aside/)
  })

  it('refuses a file from a newer schema, and one that is not a database', async () => {
    const db = new DatabaseSync(file)
    db.exec('PRAGMA user_version = 99')
    db.close()
    expect(() => Journal.open(file)).toThrow(/newer gridd/)
    await rm(file)
    await writeFile(file, 'not a database, just text that is long enough to be read as a header '.repeat(20))
    expect(() => Journal.open(file)).toThrow(JournalError)
  })

  it('keeps a session\'s opener; a file written before that column gets it, its rows read back without one', () => {
    const db = new DatabaseSync(file)
    db.exec(`CREATE TABLE sessions (id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, max_retries INTEGER NOT NULL, timeout_ms INTEGER,
      priority INTEGER NOT NULL, closed INTEGER NOT NULL, created_at INTEGER NOT NULL);
      INSERT INTO sessions VALUES ('o/s-old', 'old', 2, NULL, 0, 0, 500); PRAGMA user_version = 1`)
    db.close()
    const j = journal()
    j.commit(batch({ sessions: [session({ opener: '12D3KooWOpener' })] }))
    j.close()
    expect(journal().load().sessions).toEqual([
      { id: 'o/s-old', name: 'old', maxRetries: 2, priority: 0, closed: false, createdAt: 500 },
      session({ opener: '12D3KooWOpener' })
    ])
  })

  it('leaves out rows it cannot read back and counts them', () => {
    const j = journal()
    j.commit(batch({ sessions: [session()], newTasks: [task('ok'), task('bad')] }))
    j.close()
    const db = new DatabaseSync(file)
    db.exec("UPDATE tasks SET status = 'exploded' WHERE id = 'bad'")
    db.close()
    const back = journal().load()
    expect(back.tasks.map(t => t.id)).toEqual(['ok'])
    expect(back.unreadable).toBe(1)
  })
})
