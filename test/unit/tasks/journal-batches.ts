/** Journal batches for tests: packed from rows, read back out of a packed batch; and a journal file's rows. */
import { BatchPacker, INSERT_NUMBERS, INSERT_TEXTS, statusAt, TextReader, UPDATE_NUMBERS, UPDATE_TEXTS } from '../../../src/tasks/journal-batch.ts'
import type { PackedBatch } from '../../../src/tasks/journal-batch.ts'
import { Journal } from '../../../src/tasks/journal.ts'
import type { JournalContents, SessionRow, TaskRow } from '../../../src/tasks/journal.ts'
import type { TaskStatus } from '../../../src/tasks/types.ts'

export type NewRow = Omit<TaskRow, 'rowid'> & { rowid?: number }
export type RowChange = Pick<TaskRow, 'rowid' | 'status' | 'attempts' | 'agent' | 'startedAt' | 'endedAt' | 'error' | 'result' | 'countedLosses' | 'excusedLosses'>

export interface Batch {
  sessions?: SessionRow[]
  /** Numbered from `firstRowid` on, unless they say their rowid. */
  newTasks?: NewRow[]
  changedTasks?: RowChange[]
  droppedSessions?: string[]
  forgetEndedBefore?: number
}

export function pack (batch: Batch, firstRowid = 1): PackedBatch {
  const { sessions = [], newTasks = [], changedTasks = [], droppedSessions = [], forgetEndedBefore } = batch
  const packer = new BatchPacker(newTasks.length, changedTasks.length)
  for (const [i, t] of newTasks.entries()) packer.insert(t.rowid ?? firstRowid + i, t, t.path, t.input, t.resources, t.error, t.result)
  for (const c of changedTasks) packer.update(c.rowid, c, c.error, c.result)
  return packer.finish({ sessions, droppedSessions, forgetEndedBefore })
}

export interface Written { rowid: number, id?: string, status: TaskStatus, attempts: number, result: string | null }

/** The tasks a packed batch inserts and updates (read before it is posted: posting moves its buffers away). */
export function unpack (batch: PackedBatch): { inserted: Written[], updated: Written[] } {
  const inserted: Written[] = []
  const shared = new TextReader(INSERT_TEXTS)
  for (let row = 0; row < batch.inserts; row++) {
    const n = row * INSERT_NUMBERS
    const t = row * INSERT_TEXTS
    const owner = shared.read(batch.insertTexts, t, 10)
    const local = batch.insertTexts[t] as string
    inserted.push({ rowid: batch.insertNumbers[n]!, id: owner == null ? local : `${owner}/${local}`, status: statusAt(batch.insertNumbers[n + 4]!), attempts: batch.insertNumbers[n + 5]!, result: batch.insertTexts[t + 8] as string | null })
  }
  const updated: Written[] = []
  for (let row = 0; row < batch.updates; row++) {
    const n = row * UPDATE_NUMBERS
    updated.push({ rowid: batch.updateNumbers[n]!, status: statusAt(batch.updateNumbers[n + 1]!), attempts: batch.updateNumbers[n + 2]!, result: batch.updateTexts[row * UPDATE_TEXTS + 2] as string | null })
  }
  return { inserted, updated }
}

/** What the journal at `file` holds (opened and closed again: its writer must have let it go). */
export function readJournal (file: string): JournalContents {
  const journal = Journal.open(file)
  try {
    return journal.load()
  } finally {
    journal.close()
  }
}
