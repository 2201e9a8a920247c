import type { Task } from '../../tasks/task.ts'
import type { Session } from '../../tasks/session.ts'
import type { TaskEvent } from '../../tasks/types.ts'
import { isFinal } from '../../tasks/types.ts'
import { EventLog } from './event-log.ts'
import { taskEnding } from './task-ending.ts'
import { TooManyStreamsError } from '../../errors.ts'

export interface LiveHubConfig {
  /** Events kept per stream for resume. */
  replayEvents: number
  /** A finished stream stays (for resume) this long. */
  replayTtlMs: number
  /** Streams followed at once: room is made by letting go of the oldest ended one, else the oldest nobody reads; never one being read. */
  maxFollowed: number
}

/**
 * The live streams of the API: one EventLog per task and per session
 * followed, fed by the task's (session's) own events from the moment it is
 * first followed (a task submitted through the API from its submission; any
 * other from its status when first asked for). Bounded in count and kept a
 * while after the end, so a reconnecting reader can resume.
 */
export class LiveHub {
  private readonly config: LiveHubConfig
  private readonly logs = new Map<string, EventLog>()
  private readonly detach = new Map<string, () => void>()
  private readonly sweep: NodeJS.Timeout

  constructor (config: LiveHubConfig) {
    this.config = config
    this.sweep = setInterval(() => { this.forgetEnded() }, Math.max(1000, Math.min(config.replayTtlMs, 30_000)))
    this.sweep.unref()
  }

  /** The log of `task` for a reader, following it from now if it was not followed yet; ERR_TOO_MANY_STREAMS (503) if every log is being read. */
  task (task: Task): EventLog {
    return this.logs.get(task.id) ?? this.followTask(task, true)!
  }

  /** Follows `task` from now (its submission) if there is room; otherwise a reader that asks later gets it from its status then. */
  trackTask (task: Task): void {
    if (!this.logs.has(task.id)) this.followTask(task, false)
  }

  /** The log of `session` for a reader: its counts when first followed, then every task event, each task's result or error, and the counts at the end. ERR_TOO_MANY_STREAMS (503) if every log is being read. */
  session (session: Session): EventLog {
    return this.logs.get(session.id) ?? this.followSession(session, true)!
  }

  /** Follows `session` from now (its creation) if there is room, as trackTask. */
  trackSession (session: Session): void {
    if (!this.logs.has(session.id)) this.followSession(session, false)
  }

  private followSession (session: Session, forReader: boolean): EventLog | undefined {
    const log = this.add(new EventLog(session.id, this.config.replayEvents, 'session'), forReader)
    if (log == null) return undefined
    log.append('counts', { session: session.id, counts: session.counts() })
    // synchronously, as a task's own events: a burst (a cancel of 12,000 queued tasks) is never dropped on the
    // way in, the log's replay buffer bounds what is kept, and a reader behind it is told by a gap
    let stop: (() => void) | undefined
    stop = session.watch({
      event: e => {
        if (e.type === 'status') {
          log.append('status', { task: e.task, status: e.status, attempts: e.attempts })
          const task = isFinal(e.status) ? session.get(e.task) : undefined
          if (task != null) { const { type, data } = taskEnding(task); log.append(type, data) }
        } else if (e.type === 'progress') log.append('progress', { task: e.task, value: e.value })
        else log.append('log', { task: e.task, line: e.line })
      },
      done: () => {
        log.append('counts', { session: session.id, counts: session.counts() })
        log.end()
        // the watch held the session, and with it every result kept, for as long as the log stays for replay
        if (stop != null && this.detach.get(session.id) === stop) this.detach.delete(session.id)
      }
    })
    if (!log.ended) this.detach.set(session.id, stop)
    return log
  }

  close (): void {
    clearInterval(this.sweep)
    for (const key of [...this.logs.keys()]) this.drop(key)
  }

  private finish (log: EventLog, task: Task): void {
    const { type, data } = taskEnding(task)
    log.append(type, data)
    log.end()
    this.detach.delete(task.id)
  }

  private followTask (task: Task, forReader: boolean): EventLog | undefined {
    const log = this.add(new EventLog(task.id, this.config.replayEvents, 'task'), forReader)
    if (log == null) return undefined
    log.append('status', { task: task.id, status: task.status, attempts: task.attempts })
    if (task.final) {
      this.finish(log, task)
      return log
    }
    const onStatus = (e: TaskEvent & { type: 'status' }): void => {
      log.append('status', { task: e.task, status: e.status, attempts: e.attempts })
      if (task.final) { off(); this.finish(log, task) }
    }
    const onProgress = (e: TaskEvent & { type: 'progress' }): void => { log.append('progress', { task: e.task, value: e.value }) }
    const onLog = (e: TaskEvent & { type: 'log' }): void => { log.append('log', { task: e.task, line: e.line }) }
    const off = (): void => { task.off('status', onStatus); task.off('progress', onProgress); task.off('log', onLog) }
    task.on('status', onStatus)
    task.on('progress', onProgress)
    task.on('log', onLog)
    this.detach.set(task.id, off)
    return log
  }

  /**
   * Adds `log` within maxFollowed, making room by letting go of the oldest ended log, else the oldest
   * nobody reads (a task's before a session's: a session's carries its tasks' events too). A log being
   * read is never let go (its readers would see the stream end with the task still running); when
   * every one is, a reader is refused (503) and a log nobody reads yet is not made.
   */
  private add (log: EventLog, forReader: boolean): EventLog | undefined {
    if (this.logs.size >= this.config.maxFollowed) {
      const victim = this.oldest(l => l.ended) ?? this.oldest(l => !l.read && l.kind === 'task') ?? this.oldest(l => !l.read)
      if (victim == null) {
        if (forReader) throw new TooManyStreamsError(this.config.maxFollowed)
        return undefined
      }
      this.drop(victim)
    }
    this.logs.set(log.key, log)
    return log
  }

  private oldest (matches: (log: EventLog) => boolean): string | undefined {
    for (const [key, log] of this.logs) if (matches(log)) return key
    return undefined
  }

  private drop (key: string): void {
    this.detach.get(key)?.()
    this.detach.delete(key)
    this.logs.get(key)?.end()
    this.logs.delete(key)
  }

  private forgetEnded (): void {
    const before = Date.now() - this.config.replayTtlMs
    for (const [key, log] of this.logs) if (log.ended && (log.endedAt ?? 0) < before) this.drop(key)
  }
}
