import { join } from 'node:path'
import type { StreamHandler } from '@libp2p/interface'
import { JsonStream } from '../transport/json-stream.ts'
import { toWireError } from '../wire/wire-error.ts'
import { ModuleCache } from '../agent/module-cache.ts'
import type { PeerCredentials, RequestConnection } from '../trust/credentials.ts'
import type { Logger } from '../logger.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import { UNSENT_RETRY_MS, UnsentReplies } from '../transport/unsent-replies.ts'
import { ReadBudget } from '../transport/read-budget.ts'
import type { PeerReadBudget } from '../transport/read-budget.ts'
import { MAX_UNSENT_REPLY_BYTES } from './result-cap.ts'
import { PeerUnreachableError, ProtocolError, RateLimitedError, TaskLimitError, TaskNotFoundError, TaskNotRegisteredError } from '../errors.ts'
import type { Tasks } from './tasks.ts'
import type { Task } from './task.ts'
import type { Session } from './session.ts'
import { defaultSessionId } from './session.ts'
import { checkRequest, checkTaskAccess, isOperator, sessionVisible } from './access.ts'
import { isFinal } from './types.ts'
import { sha256 as hashOf } from '../wire/module-ref.ts'
import type { Caller } from './access.ts'
import { DEFAULT_LIST, MAX_LIST, MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_WAIT_MS, TASKS_PROTOCOL, tasksRequestSchema } from './protocol-schema.ts'
import type { SessionSummary, TasksReply, TasksRequest } from './protocol-schema.ts'
import { SubmitBudget, inputBytes, releasedAtEnd, remoteSessionsBudget, resumedInputBytes } from './submit-budget.ts'
import { isApiSubmitter } from './submitter.ts'
import { settledWithin } from './settled-within.ts'
import { endedByStop, stoppedError } from './stopped-task.ts'
import type { SubmitLimits } from './submit-budget.ts'

/** Shipped task bundles kept at most (content-addressed, least recently used evicted; a module with open tasks stays). */
export const TASK_MODULES_QUOTA_BYTES = 64 * 1024 * 1024
/** How long a cancel waits for the task to settle before it answers with the status it has. */
const CANCEL_SETTLE_MS = 5000
const READ_REQUEST_MS = 10_000
/** Bytes of requests one peer may have being read at once (eight of the largest), and all peers together. */
export const MAX_READING_BYTES_PER_PEER = 8 * MAX_REQUEST_BYTES
export const MAX_READING_BYTES_TOTAL = 4 * MAX_READING_BYTES_PER_PEER
/** Bytes of owners' answers being read at once for the requests one peer had relayed (one of the largest), and for all. */
export const MAX_RELAYING_BYTES_PER_PEER = MAX_REPLY_BYTES
export const MAX_RELAYING_BYTES_TOTAL = 4 * MAX_RELAYING_BYTES_PER_PEER
const encoder = new TextEncoder()

export interface TasksServiceDeps {
  tasks: Tasks
  /** This node's peer id: ids that name another owner are forwarded to it. */
  self: string
  credentials: Pick<PeerCredentials, 'get' | 'has' | 'forbid'>
  /** The node's data dir: shipped bundles go to `<dataDir>/tasks/modules/<sha256>.mjs`. */
  dataDir: string
  /** Creates the data dir or checks the one there (owned by this user, writable by nobody else), before code is stored in it. */
  prepareDataDir: () => Promise<void>
  /** Sends a request to the owner `owner` (a member) and returns its reply, read within `budget` (the requester's). */
  forward: (owner: string, request: TasksRequest, signal: AbortSignal, budget: PeerReadBudget) => Promise<TasksReply>
  log: Logger
  /** Where a malformed, truncated or stalled request is counted and logged (rate-limited), as on every request protocol. */
  rejections: Rejections
  /** What one remote submitter may hold open here (default: submit-budget.ts's bounds). */
  submitLimits?: SubmitLimits
  /** Bytes of requests being read at once, per peer and in all (default MAX_READING_BYTES_PER_PEER and _TOTAL). */
  readLimits?: { perPeer: number, total: number }
}

/**
 * The node's side of TASKS_PROTOCOL: submit (a registered name, or a member's
 * shipped bundle, stored content-addressed), get, wait, cancel and the session
 * ops, each checked against the caller's roles (access.ts). A request about
 * an id another node owns is forwarded to that owner once, with the caller it
 * came from, and its answer relayed.
 */
export class TasksService {
  private readonly deps: TasksServiceDeps
  private modules?: Promise<ModuleCache>
  private readonly remoteSessions = remoteSessionsBudget()
  private readonly budget: SubmitBudget
  private readonly unsent = new UnsentReplies(MAX_UNSENT_REPLY_BYTES)
  private readonly reading: ReadBudget
  /**
   * What the owners' answers to relayed requests cost while they are read, charged to the peer that asked: each
   * may be 64 MiB, and a member asking on every stream it may hold about ids it owns itself could answer each
   * forward with that much, for the node to read at once.
   */
  private readonly relaying = new ReadBudget(MAX_RELAYING_BYTES_PER_PEER, MAX_RELAYING_BYTES_TOTAL)

  constructor (deps: TasksServiceDeps) {
    this.deps = deps
    this.budget = new SubmitBudget(deps.submitLimits)
    this.reading = new ReadBudget(deps.readLimits?.perPeer ?? MAX_READING_BYTES_PER_PEER, deps.readLimits?.total ?? MAX_READING_BYTES_TOTAL)
  }

  /**
   * Charges what the tasks resumed from the journal (the node restarted) to the budgets of the peers that
   * opened and submitted them, as when they came: else each restart would let a peer hold a budget's worth
   * more. Kept even past a budget (they were accepted), so that peer's next ones are refused until enough end.
   * Those the HTTP API took (`api:` openers and submitters) are on the API's own budgets (it charges them when
   * it starts), never on this protocol's: counted here too, they would fill its all-peers totals.
   * Called once, after the tasks started and before this protocol answers anyone.
   */
  holdResumed (): void {
    for (const session of this.deps.tasks.sessions()) {
      if (session.opener != null && !isApiSubmitter(session.opener) && !session.isDone) void session.done.then(this.remoteSessions.hold(session.opener, 0))
      for (const task of session.openTasks()) {
        // the node's own (node.run, schedules) and the HTTP API's are on no remote submitter's budget here
        if (task.submitter == null || task.submitter === this.deps.self || isApiSubmitter(task.submitter)) continue
        void task.settled.then(this.budget.hold(task.submitter, resumedInputBytes(task.input)))
      }
    }
  }

  handler (): StreamHandler {
    return async (stream, connection) => {
      const peer = connection.remotePeer.toString()
      const json = new JsonStream(stream, { maxBytes: MAX_REQUEST_BYTES, budget: this.reading.of(peer) })
      let request: TasksRequest
      try {
        request = await json.readLast(tasksRequestSchema, { signal: AbortSignal.timeout(READ_REQUEST_MS) })
      } catch (err) {
        const limited = err instanceof RateLimitedError
        if (limited) this.reading.refused(this.deps.rejections, TASKS_PROTOCOL, peer, 'a tasks request')
        else this.deps.rejections.reject(TASKS_PROTOCOL, streamFailure(err), peer, 'dropped a tasks request', String(err), { err })
        // a request that is not one: the caller learns what is wrong with it (ERR_PROTOCOL; ERR_RATE_LIMITED, retryable,
        // for one over its budget: its body is dropped as it comes), a stalled one gets nothing
        if (err instanceof ProtocolError || limited) await json.write({ ok: false, error: toWireError(err) }, { signal: AbortSignal.timeout(READ_REQUEST_MS) }).then(async () => { await json.close() }, () => { stream.abort(err) })
        else stream.abort(err as Error)
        return
      }
      const answer = this.encodeReply(peer, await this.serve(peer, request, connection))
      try {
        await json.writeEncoded(answer.bytes)
        await json.close()
      } catch (err) {
        this.deps.log.debug({ peer, err }, 'could not answer a tasks request')
        stream.abort(err as Error)
      } finally {
        answer.release()
      }
    }
  }

  /**
   * `reply` as it goes on the wire, held against what `peer` has not read yet (UnsentReplies) until the
   * stream is done; over that bound, a retryable ERR_RATE_LIMITED instead (counted).
   */
  private encodeReply (peer: string, reply: TasksReply): { bytes: Uint8Array, release: () => void } {
    const failure = (err: unknown): { bytes: Uint8Array, release: () => void } => ({ bytes: encoder.encode(JSON.stringify({ ok: false, error: toWireError(err) })), release: () => {} })
    let bytes: Uint8Array
    try {
      bytes = encoder.encode(JSON.stringify(reply))
    } catch (err) {
      // a value JSON cannot carry (a BigInt): the caller learns why instead of a dropped stream
      return failure(err)
    }
    const release = this.unsent.hold(peer, bytes.length)
    if (release != null) return { bytes, release }
    this.deps.rejections.reject(TASKS_PROTOCOL, 'rate-limited', peer, 'refused a tasks answer: this peer has not read the ones before', `${this.unsent.heldBy(peer)} bytes unread`)
    return failure(new RateLimitedError(UNSENT_RETRY_MS))
  }

  /**
   * Answers `request` from `peer` (on `via`, the connection it came on: its certificate's roles decide)
   * here, or forwards it to the owner its id names; a failure is an `{ ok: false }` reply.
   */
  async serve (peer: string, request: TasksRequest, via?: RequestConnection): Promise<TasksReply> {
    try {
      return await this.route(peer, request, via)
    } catch (err) {
      return { ok: false, error: toWireError(err) }
    }
  }

  private async route (peer: string, request: TasksRequest, via?: RequestConnection): Promise<TasksReply> {
    const caller = this.callerOf(peer, request, via)
    checkRequest(caller, request)
    const id = 'id' in request ? request.id : request.op === 'submit' ? request.session : undefined
    const owner = id?.slice(0, id.indexOf('/'))
    if (id != null && owner !== this.deps.self) {
      // forwarded once: an owner that does not hold the id says so rather than passing it on
      if ('relay' in request && request.relay != null) throw new TaskNotFoundError(id, id.includes('/s-') ? 'session' : 'task')
      const relayed = { ...request, relay: { caller: caller.peer, roles: [...caller.roles] } }
      const waitMs = request.op === 'wait' ? request.timeoutMs ?? MAX_WAIT_MS : 0
      try {
        return await this.deps.forward(owner!, relayed, AbortSignal.timeout(waitMs + 20_000), this.relaying.of(peer))
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw new PeerUnreachableError(`${owner!} (the owner of ${id})`, { cause: err })
        this.deps.rejections.reject(TASKS_PROTOCOL, 'rate-limited', peer, 'refused to relay a tasks answer: the answers to this peer\'s relayed requests are too large together', `${this.relaying.heldBy(peer)} bytes being read`)
        throw err
      }
    }
    return await this.answer(caller, request)
  }

  private callerOf (peer: string, request: TasksRequest, via?: RequestConnection): Caller {
    const relay = 'relay' in request ? request.relay : undefined
    if (relay == null) return { peer, roles: this.deps.credentials.get(peer, via)?.roles ?? new Set() }
    // a member that verified the caller's certificate vouches for it; nobody else may
    if (!this.deps.credentials.has(peer, 'member', via)) throw this.deps.credentials.forbid(peer, 'relay tasks requests', ['member'], via)
    return { peer: relay.caller, roles: new Set(relay.roles) }
  }

  private async answer (caller: Caller, request: TasksRequest): Promise<TasksReply> {
    const { tasks } = this.deps
    switch (request.op) {
      case 'submit': return await this.submit(caller, request)
      case 'get': return taskReply(this.task(caller, request.id, 'get'))
      case 'wait': {
        const task = this.task(caller, request.id, 'wait for')
        // held from here: a stop answers it (ERR_NODE_STOPPED, for a task the journal resumes) rather than dropping its stream
        this.deps.log.debug({ task: task.id, peer: caller.peer }, 'tasks wait: waiting for the task to be final')
        await settledWithin(task, { timeoutMs: request.timeoutMs ?? MAX_WAIT_MS })
        // its "cancelled" is this process's alone: a final status would tell the waiter it ended, and it runs after the restart
        if (endedByStop(task)) throw stoppedError(task.id)
        return taskReply(task)
      }
      case 'cancel': {
        const task = this.task(caller, request.id, 'cancel')
        task.cancel(request.reason ?? `cancelled by ${caller.peer}`)
        await settledWithin(task, { timeoutMs: CANCEL_SETTLE_MS })
        return taskReply(task)
      }
      case 'session-open': {
        // room until the session is closed and done (throws TaskLimitError past the caller's or all callers' share)
        const release = this.remoteSessions.take(caller.peer, 0)
        const session = tasks.session({ name: request.name, priority: request.priority, maxRetries: request.maxRetries, timeoutMs: request.timeoutMs }, undefined, false, caller.peer)
        void session.done.then(release)
        return { ok: true, id: session.id, session: summary(session) }
      }
      case 'session-list': return { ok: true, sessions: tasks.sessions().filter(s => this.visible(caller, s)).slice(0, MAX_LIST).map(summary) }
      case 'session-show': {
        const session = this.session(request.id)
        // another's session is to a client as a missing id, as in session-list and submit
        if (!this.visible(caller, session)) throw new TaskNotFoundError(session.id, 'session')
        const all = session.tasks({ status: request.status })
        const visible = isOperator(caller) ? all : all.filter(t => t.submitter === caller.peer)
        return { ok: true, session: summary(session), tasks: visible.slice(0, request.limit ?? DEFAULT_LIST) }
      }
      case 'session-close': {
        const session = this.session(request.id)
        session.closeByRequest()
        return { ok: true, session: summary(session) }
      }
      case 'session-cancel': {
        const session = this.session(request.id)
        const open = session.tasks().filter(t => !isFinal(t.status))
        const reason = `session cancelled by ${caller.peer}`
        session.cancelByRequest(reason)
        // answered with the counts after the cancel: a closed session is forgotten once done
        await Promise.all(open.map(async info => { const task = session.get(info.id); if (task != null) await settledWithin(task, { timeoutMs: CANCEL_SETTLE_MS }) }))
        return { ok: true, cancelled: open.length, session: summary(session) }
      }
    }
  }

  private async submit (caller: Caller, request: Extract<TasksRequest, { op: 'submit' }>): Promise<TasksReply> {
    const release = this.budget.take(caller.peer, inputBytes(request.input))
    const task = await this.submitTask(caller, request).catch((err: unknown) => { release(); throw err })
    void task.settled.then(release)
    return { ok: true, id: task.id, task: task.info() }
  }

  private async submitTask (caller: Caller, request: Extract<TasksRequest, { op: 'submit' }>): Promise<Task> {
    const { tasks } = this.deps
    const session = request.session == null ? this.defaultSession() : this.session(request.session)
    // as missing, not forbidden: whether another's session exists is not the caller's to learn
    if (!this.visible(caller, session)) throw new TaskNotFoundError(session.id, 'session')
    const options = { priority: request.priority, maxRetries: request.maxRetries, timeoutMs: request.timeoutMs, submitter: caller.peer }
    if (request.module.kind === 'name') {
      const { name } = request.module
      // only a registered name: anything else would resolve as a path on this node
      if (tasks.registeredModule(name) == null) throw new TaskNotRegisteredError(name, tasks.registeredNames())
      return session.submit(name, request.input, options)
    }
    const { sha256, source, path: submitted } = request.module
    if (hashOf(source) !== sha256) throw new ProtocolError('the shipped task module does not match its sha256')
    const cache = await this.moduleCache()
    const { path } = await cache.store(sha256, source).catch((err: unknown) => { throw new TaskLimitError(`shipped task module not stored: ${(err as Error).message}`) })
    // pinned while the task is open: its pool may still spawn a worker from the file
    return releasedAtEnd(() => { cache.release(sha256) }, () => session.submitShipped(path, submitted, request.input, options))
  }

  private task (caller: Caller, id: string, op: string): Task {
    const task = this.deps.tasks.getTask(id)
    if (task == null) throw new TaskNotFoundError(id)
    checkTaskAccess(caller, task.submitter, op)
    return task
  }

  private session (id: string): Session {
    const session = this.deps.tasks.getSession(id)
    if (session == null) throw new TaskNotFoundError(id, 'session')
    return session
  }

  private visible (caller: Caller, session: Session): boolean {
    return sessionVisible(caller, session, session.id === defaultSessionId(this.deps.self))
  }

  private defaultSession (): Session {
    return this.deps.tasks.getSession(defaultSessionId(this.deps.self))!
  }

  private async moduleCache (): Promise<ModuleCache> {
    this.modules ??= (async () => {
      // shipped code lives in it: a dir others could write to could have it swapped before a worker imports it
      await this.deps.prepareDataDir()
      const cache = new ModuleCache(join(this.deps.dataDir, 'tasks'), { quotaBytes: TASK_MODULES_QUOTA_BYTES }, this.deps.log)
      // what is stored there is other peers' code: even on this node it runs as shipped code, never in place
      this.deps.tasks.foreignCodeIn(join(this.deps.dataDir, 'tasks', 'modules'), () => cache.bytes)
      await cache.start()
      return cache
    })()
    this.modules.catch(() => { this.modules = undefined })
    return await this.modules
  }
}

function taskReply (task: Task): TasksReply {
  return { ok: true, task: task.info(), value: task.status === 'completed' ? task.value : undefined }
}

function summary (session: Session): SessionSummary {
  return { id: session.id, name: session.name.slice(0, 256), closed: session.isClosed, createdAt: session.createdAt, counts: session.counts() }
}
