import { Task } from './task.ts'
import type { Session } from './session.ts'
import type { JournalContents, SessionRow, TaskRow } from './journal.ts'
import type { TaskOptions } from './types.ts'
import { isFinal } from './types.ts'
import type { WireError } from '../wire/wire-error.ts'
import { toWireError } from '../wire/wire-error.ts'
import { NodeStoppedError, TaskLostError } from '../errors.ts'
import { EXCUSED_LOSSES } from '../owner/worker-handle.ts'

/** What resuming needs of the tasks service. */
export interface ResumeHost {
  /** A session rebuilt from its row (same id). */
  session: (row: SessionRow) => Session
  /** A session that is not journaled but always there (the default session). */
  existing: (id: string) => Session | undefined
  /** The default session's id: it takes the node's own submits, so it is never closed, whatever its row says. */
  defaultSession: string
  /** Takes in a rebuilt task (journaled in row `rowid`): its session adopts it, and it is followed as a new one would be. */
  adopt: (session: Session, task: Task, rowid: number) => void
  /** Queues an unfinished task to run `path` (the module it was submitted with, resolved). */
  enqueue: (task: Task, path: string, resources: TaskOptions['resources']) => void
}

export interface ResumeSummary {
  sessions: number
  /** Unfinished tasks queued again (an attempt in flight was lost: excused, or counted past EXCUSED_LOSSES). */
  requeued: number
  /** Final tasks whose results are served again. */
  finished: number
  /** Tasks whose attempt in flight was their last allowed one (no loss left to excuse): failed as lost. */
  lost: number
  /** Final tasks past `resultTtlMs`, rows unreadable, and tasks of unknown sessions: left out. */
  skipped: number
}

/**
 * Rebuilds sessions and tasks from the journal of an owner that stopped or
 * died: a final task is served as it ended (unless past the TTL); an
 * unfinished one is queued again, and one that was dispatched or running
 * lost that attempt (excused, see requeueInterrupted) and fails as lost only
 * when it was out of both excuses and retries. A session journaled as closed is closed again once its tasks
 * are in, but for the default session (an API cancel once closed it: such a
 * journal must not leave the node unable to submit).
 */
export function resumeJournal (contents: JournalContents, host: ResumeHost, forgetEndedBefore: number): ResumeSummary {
  const summary: ResumeSummary = { sessions: 0, requeued: 0, finished: 0, lost: 0, skipped: contents.unreadable }
  const sessions = new Map<string, Session>()
  for (const row of contents.sessions) {
    sessions.set(row.id, host.session(row))
    summary.sessions++
  }
  for (const row of contents.tasks) {
    const session = sessions.get(row.session) ?? host.existing(row.session)
    const restored = session == null ? undefined : restoreTask(row)
    if (session == null || restored == null || (isFinal(row.status) && (row.endedAt ?? 0) < forgetEndedBefore)) {
      summary.skipped++
      continue
    }
    const task = restored.task
    host.adopt(session, task, row.rowid)
    if (task.final) {
      summary.finished++
      continue
    }
    requeueInterrupted(task)
    if (task.final) {
      summary.lost++
      continue
    }
    host.enqueue(task, row.path, restored.resources)
    summary.requeued++
  }
  for (const row of contents.sessions) if (row.closed && row.id !== host.defaultSession) sessions.get(row.id)?.close()
  return summary
}

/** A task as its row left it, not yet adopted; undefined if a JSON column does not parse. */
export function restoreTask (row: TaskRow): { task: Task, resources: TaskOptions['resources'] } | undefined {
  let input: unknown, value: unknown, error: WireError | undefined, resources: TaskOptions['resources']
  try {
    input = row.input == null ? undefined : JSON.parse(row.input)
    value = row.result == null ? undefined : JSON.parse(row.result)
    error = row.error == null ? undefined : JSON.parse(row.error) as WireError
    resources = row.resources == null ? undefined : JSON.parse(row.resources) as TaskOptions['resources']
  } catch {
    return undefined
  }
  const task = new Task({
    id: row.id,
    session: row.session,
    module: row.module,
    input,
    priority: row.priority,
    maxRetries: row.maxRetries,
    timeoutMs: row.timeoutMs,
    submitter: row.submitter,
    submittedAt: row.submittedAt,
    restored: { status: row.status, attempts: row.attempts, countedLosses: row.countedLosses, excusedLosses: row.excusedLosses, startedAt: row.startedAt, endedAt: row.endedAt, agent: row.agent, error, value }
  })
  return { task, resources }
}

/**
 * After adoption: a task whose attempt was in flight when its owner went down goes back to the queue. Its
 * owner's stop or crash is, as a rule, not its doing: the loss is excused, as the pool excuses its agent
 * stopping its worker, and uses none of `maxRetries`. EXCUSED_LOSSES bounds that as it does there (the
 * excused count is journaled): a task may bring its owner down itself (it SIGTERMs its agent, which is the
 * owner's own process, or fills the owner's heap with its progress), and would otherwise restart it for
 * ever. Past that, the loss counts, and fails the task as lost once out of retries.
 */
function requeueInterrupted (task: Task): void {
  if (task.status !== 'dispatched' && task.status !== 'running') return
  const excused = ++task.excusedLosses <= EXCUSED_LOSSES
  if (!excused) task.countedLosses++
  if (excused || task.countedLosses <= task.maxRetries) task.mark('queued')
  else task.mark('failed', toWireError(new TaskLostError(task.id, task.attempts, { cause: new NodeStoppedError() })))
}
