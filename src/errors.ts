/**
 * Every failure gridd reports is a GridError subclass with a stable `code`
 * (match on `code`, never on message text) and whether retrying may help.
 * Each code is exported as a constant beside its class.
 */
export class GridError extends Error {
  readonly code: string
  readonly retryable: boolean

  constructor (message: string, code: string, options?: { cause?: unknown, retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = options?.retryable ?? false
  }
}

export const ERR_CONFIG = 'ERR_CONFIG'
/** A bad option or flag; `option` names it. */
export class ConfigError extends GridError {
  readonly option: string
  constructor (option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, ERR_CONFIG, options)
    this.option = option
  }
}

export const ERR_NO_CERTS = 'ERR_NO_CERTS'
/** No TLS material could be found anywhere in the configuration chain. */
export class CertsNotFoundError extends GridError {
  constructor (where: string) {
    super(`no certificates found (${where}); run \`grid certs init\` to create a CA and node certificates, or pass --dev for a throwaway one-machine grid`, ERR_NO_CERTS)
  }
}

export const ERR_CERTIFICATE = 'ERR_CERTIFICATE'
/** A certificate or key is unreadable, malformed, or does not fit its purpose. */
export class CertificateError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, ERR_CERTIFICATE, options)
  }
}

export const ERR_KEY_PERMISSIONS = 'ERR_KEY_PERMISSIONS'
/** A private key file readable or writable by group or others (as OpenSSH, refused rather than used). */
export class KeyPermissionsError extends GridError {
  readonly path: string
  readonly mode: number
  constructor (path: string, mode: number) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0')
    super(`permissions ${octal} for the private key ${path} are too open: a key must not be readable or writable by group or others; run \`chmod 600 ${path}\``, ERR_KEY_PERMISSIONS)
    this.path = path
    this.mode = mode
  }
}

export const ERR_FILE_EXISTS = 'ERR_FILE_EXISTS'
/** A file would be overwritten without --force. */
export class FileExistsError extends GridError {
  readonly path: string
  constructor (path: string) {
    super(`${path} already exists (pass --force to overwrite)`, ERR_FILE_EXISTS)
    this.path = path
  }
}

export const ERR_INVALID_ADDRESS = 'ERR_INVALID_ADDRESS'
/** A peer address that is neither host:port nor a multiaddr. */
export class InvalidAddressError extends GridError {
  constructor (address: string, reason: string) {
    super(`invalid peer address "${address}": ${reason}`, ERR_INVALID_ADDRESS)
  }
}

export const ERR_TLS_REFUSED = 'ERR_TLS_REFUSED'
/** The mutual-TLS handshake refused the remote side; `reason` is one of REFUSAL_REASONS. */
export class TlsRefusedError extends GridError {
  readonly reason: string
  constructor (reason: string, message: string) {
    super(message, ERR_TLS_REFUSED)
    this.reason = reason
  }
}

export const ERR_PROTOCOL = 'ERR_PROTOCOL'
/** A message from the network that is too large or does not match its schema. */
export class ProtocolError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, ERR_PROTOCOL, options)
  }
}

export const ERR_PEER_UNREACHABLE = 'ERR_PEER_UNREACHABLE'
/** A remote peer could not be reached or did not answer. */
export class PeerUnreachableError extends GridError {
  constructor (address: string, options?: { cause?: unknown }) {
    super(`could not reach ${address}${causeText(options?.cause)}`, ERR_PEER_UNREACHABLE, { ...options, retryable: true })
  }
}

export const ERR_NODE_STOPPED = 'ERR_NODE_STOPPED'
/** An operation on a node that is not running. */
export class NodeStoppedError extends GridError {
  constructor () {
    super('the node is not running', ERR_NODE_STOPPED)
  }
}

function causeText (cause: unknown): string {
  return cause instanceof Error ? `: ${cause.message}` : ''
}

export const ERR_REMOTE = 'ERR_REMOTE'
/** What survives of an error that crossed a process or network boundary (src/wire/wire-error.ts). */
export interface RemoteErrorData {
  name: string
  message: string
  stack?: string
  code?: string
  retryable?: boolean
}

/**
 * A failure in another process or on another peer, rethrown here. The remote
 * `name`, `message`, `stack` and `code` survive (ERR_REMOTE when the remote
 * error had no code), so callers match on `code` whichever side failed.
 */
export class RemoteError extends GridError {
  readonly remoteStack?: string
  constructor (remote: RemoteErrorData) {
    super(remote.message, remote.code ?? ERR_REMOTE, { retryable: remote.retryable })
    this.name = remote.name
    this.remoteStack = remote.stack
    if (remote.stack != null) this.stack = remote.stack
  }
}

export const ERR_STAGE_DEFINITION = 'ERR_STAGE_DEFINITION'
/** A stage module whose default export is neither a function nor an object with `process`. */
export class StageDefinitionError extends GridError {
  constructor (message: string) {
    super(message, ERR_STAGE_DEFINITION)
  }
}

export const ERR_WORKER_EXITED = 'ERR_WORKER_EXITED'
/** A worker process ended while items were in flight or before it could take one. */
export class WorkerExitedError extends GridError {
  readonly workerId: string
  constructor (workerId: string, detail: string, options?: { cause?: unknown }) {
    super(`worker ${workerId} exited: ${detail}`, ERR_WORKER_EXITED, { ...options, retryable: true })
    this.workerId = workerId
  }
}

export const ERR_WORKER_NOT_FOUND = 'ERR_WORKER_NOT_FOUND'
/** A request named a worker the agent does not run (it exited, or never ran there). */
export class WorkerNotFoundError extends GridError {
  readonly workerId: string
  constructor (workerId: string) {
    super(`no worker ${workerId} on this agent`, ERR_WORKER_NOT_FOUND)
    this.workerId = workerId
  }
}

export const ERR_MEMORY_LIMIT = 'ERR_MEMORY_LIMIT'
/** The agent's watchdog killed a worker whose resident memory went over its limit. */
export class MemoryLimitError extends GridError {
  readonly rssMb: number
  readonly limitMb: number
  constructor (workerId: string, rssMb: number, limitMb: number) {
    super(`worker ${workerId} used ${rssMb} MB resident, over its ${limitMb} MB limit`, ERR_MEMORY_LIMIT)
    this.rssMb = rssMb
    this.limitMb = limitMb
  }
}

export const ERR_AGENT_LOST = 'ERR_AGENT_LOST'
/** The agent hosting a worker failed, left, or became unreachable. */
export class AgentLostError extends GridError {
  readonly agentId: string
  constructor (agentId: string, detail: string) {
    super(`agent ${agentId} lost: ${detail}`, ERR_AGENT_LOST, { retryable: true })
    this.agentId = agentId
  }
}

export const ERR_SPAWN_REFUSED = 'ERR_SPAWN_REFUSED'
/** An agent refused a spawn (the module is unusable there, or it could not start a process). */
export class SpawnRefusedError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, ERR_SPAWN_REFUSED, { ...options, retryable: true })
  }
}

export const ERR_AGENT_FULL = 'ERR_AGENT_FULL'
/** An agent refused a spawn that no longer fits (two requesters raced for its last room); `lacks` says what. */
export class AgentFullError extends GridError {
  readonly lacks: string[]
  constructor (lacks: string[]) {
    super(`agent is full: ${lacks.join('; ')}`, ERR_AGENT_FULL, { retryable: true })
    this.lacks = lacks
  }
}

export const ERR_MODULE_MISSING = 'ERR_MODULE_MISSING'
/** The agent lacks the exact stage module (by sha256): the requester sends its source. */
export class ModuleMissingError extends GridError {
  readonly sha256: string
  constructor (sha256: string) {
    super(`this agent lacks module ${sha256}: send its source`, ERR_MODULE_MISSING)
    this.sha256 = sha256
  }
}

export const ERR_MODULE_NOT_ALLOWED = 'ERR_MODULE_NOT_ALLOWED'
/**
 * The agent refused to run a file on its own disk that a requester named: it runs shipped code from its
 * content-addressed cache, and local files only inside its allowed module dirs (`--module-dir`).
 */
export class ModuleNotAllowedError extends GridError {
  readonly path: string
  constructor (path: string, reason: string) {
    super(`module ${path} is not allowed on this agent: ${reason}`, ERR_MODULE_NOT_ALLOWED, { retryable: true })
    this.path = path
  }
}

export const ERR_MODULE_INTEGRITY = 'ERR_MODULE_INTEGRITY'
/** A cached module's content no longer hashes to its name (changed on disk): it is not imported. */
export class ModuleIntegrityError extends GridError {
  readonly file: string
  constructor (file: string, actual: string) {
    super(`cached module ${file} does not match its name (its content hashes to ${actual}): not imported`, ERR_MODULE_INTEGRITY)
    this.file = file
  }
}

export const ERR_NO_CAPACITY = 'ERR_NO_CAPACITY'
/** No agent has room for a worker; `shortfalls` says what each agent lacked. */
export class NoCapacityError extends GridError {
  readonly shortfalls: Array<{ agentId: string, lacks: string[] }>
  constructor (shortfalls: Array<{ agentId: string, lacks: string[] }>) {
    const detail = shortfalls.length === 0 ? 'no agents in the grid' : shortfalls.map(s => `${s.agentId}: ${s.lacks.join(', ')}`).join('; ')
    super(`no agent can take this worker (${detail})`, ERR_NO_CAPACITY, { retryable: true })
    this.shortfalls = shortfalls
  }
}

export const ERR_POISON_ITEM = 'ERR_POISON_ITEM'
/** An item that crashed a worker twice, the second time alone on it: failed, not retried. */
export class PoisonItemError extends GridError {
  constructor (lastCrash: Error) {
    super(`a worker died twice while processing this item, the second time with it alone (last: ${lastCrash.message})`, ERR_POISON_ITEM, { cause: lastCrash })
  }
}

export const ERR_PIPELINE_CANCELLED = 'ERR_PIPELINE_CANCELLED'
/** A pipeline run was cancelled before it finished. */
export class PipelineCancelledError extends GridError {
  constructor (name: string) {
    super(`pipeline "${name}" was cancelled`, ERR_PIPELINE_CANCELLED)
  }
}

export const ERR_ADDON_EXISTS = 'ERR_ADDON_EXISTS'
/** `node.use()` of an add-on whose name is already in use on this node. */
export class AddonExistsError extends GridError {
  constructor (name: string) {
    super(`an add-on named "${name}" is already in use on this node`, ERR_ADDON_EXISTS)
  }
}

export const ERR_ADDON_DEPENDENCY = 'ERR_ADDON_DEPENDENCY'
/** `node.use()` of an add-on whose dependencies are not in use yet. */
export class AddonDependencyError extends GridError {
  readonly missing: string[]
  constructor (name: string, missing: string[]) {
    super(`add-on "${name}" needs ${missing.map(m => `"${m}"`).join(', ')} in use first`, ERR_ADDON_DEPENDENCY)
    this.missing = missing
  }
}

export const ERR_ADDON_START = 'ERR_ADDON_START'
/** An add-on threw in `start`; the node is unharmed and the add-on is not in use. */
export class AddonStartError extends GridError {
  constructor (name: string, cause: unknown) {
    super(`add-on "${name}" failed to start: ${(cause as Error)?.message ?? String(cause)}`, ERR_ADDON_START, { cause })
  }
}

export const ERR_VALUE_TOO_LARGE = 'ERR_VALUE_TOO_LARGE'
/** A channel value larger than the channel's limit once serialized. */
export class ValueTooLargeError extends GridError {
  constructor (key: string, bytes: number, limit: number) {
    super(`value for "${key}" is ${bytes} bytes serialized; the limit is ${limit}`, ERR_VALUE_TOO_LARGE)
  }
}

/** A stage module (with its relative imports) could not be bundled for shipping; `file` is where esbuild stopped. */
export const ERR_STAGE_BUNDLE = 'ERR_STAGE_BUNDLE'

/** A shipped stage and its relative imports could not be bundled into one module; names the stage and the file. */
export class StageBundleError extends GridError {
  readonly stage: string
  readonly file: string
  constructor (stage: string, file: string, detail: string, options?: { cause?: unknown }) {
    super(`stage "${stage}": cannot bundle ${file}: ${detail}`, ERR_STAGE_BUNDLE, options)
    this.stage = stage
    this.file = file
  }
}

export const ERR_CHANNEL_LIMIT = 'ERR_CHANNEL_LIMIT'
/** A channel (or the node's set of channels) is at a configured cap: channels, keys or bytes. */
export class ChannelLimitError extends GridError {
  constructor (what: 'channels' | 'keys' | 'bytes', limit: number, channel: string) {
    super(what === 'channels'
      ? `cannot open channel ${JSON.stringify(channel)}: this node has ${limit} channels open (channels.maxChannels)`
      : `channel ${JSON.stringify(channel)} is full: at most ${limit} ${what} (channels.${what === 'keys' ? 'maxKeysPerChannel' : 'maxChannelBytes'})`, ERR_CHANNEL_LIMIT)
  }
}

export const ERR_FORBIDDEN = 'ERR_FORBIDDEN'
/**
 * The caller's certificate lacks the role an operation needs (DESIGN §11), or the
 * operation touches what belongs to another peer (a worker it did not spawn).
 */
export class ForbiddenError extends GridError {
  constructor (message: string) {
    super(message, ERR_FORBIDDEN)
  }
}

export const ERR_TASK_FAILED = 'ERR_TASK_FAILED'
/**
 * A task threw: the remote error's name, message and stack are kept (the stack
 * names the task file and line), and the remote error is the `cause`.
 */
export class TaskError extends GridError {
  readonly taskId: string
  readonly remoteName: string
  readonly remoteStack?: string
  constructor (taskId: string, remote: { name: string, message: string, stack?: string, code?: string }, options?: { cause?: unknown }) {
    super(`task ${taskId} failed: ${remote.name}: ${remote.message}`, ERR_TASK_FAILED, options)
    this.taskId = taskId
    this.remoteName = remote.name
    this.remoteStack = remote.stack
    // the caller sees where it went wrong in the task, then where it was awaited
    if (remote.stack != null) this.stack = `${this.name}: ${this.message}\n  remote: ${remote.stack}\n  local: ${(this.stack ?? '').split('\n').slice(1).join('\n')}`
  }
}

export const ERR_TASK_TIMEOUT = 'ERR_TASK_TIMEOUT'
/** A task attempt ran longer than its `timeoutMs` (its signal was aborted). */
export class TaskTimeoutError extends GridError {
  readonly taskId: string
  constructor (taskId: string, timeoutMs: number) {
    super(`task ${taskId} timed out after ${timeoutMs} ms`, ERR_TASK_TIMEOUT)
    this.taskId = taskId
  }
}

export const ERR_TASK_CANCELLED = 'ERR_TASK_CANCELLED'
/** A task (or its session) was cancelled before it finished. */
export class TaskCancelledError extends GridError {
  readonly taskId: string
  constructor (taskId: string, reason = 'cancelled') {
    super(`task ${taskId} was cancelled: ${reason}`, ERR_TASK_CANCELLED)
    this.taskId = taskId
  }
}

export const ERR_TASK_LOST = 'ERR_TASK_LOST'
/** Every attempt of a task lost its worker or agent (`maxRetries` spent). */
export class TaskLostError extends GridError {
  readonly taskId: string
  constructor (taskId: string, attempts: number, options?: { cause?: unknown }) {
    super(`task ${taskId}: its worker or agent was lost on each of ${attempts} attempts${causeText(options?.cause)}`, ERR_TASK_LOST, options)
    this.taskId = taskId
  }
}

export const ERR_SESSION_CLOSED = 'ERR_SESSION_CLOSED'
/** A task submitted to a session that was closed or cancelled. */
export class SessionClosedError extends GridError {
  constructor (session: string) {
    super(`session ${session} is closed: it takes no new tasks`, ERR_SESSION_CLOSED)
  }
}

export const ERR_CRL = 'ERR_CRL'
/** A certificate revocation list that is malformed, too large, or not signed by the grid CA. */
export class CrlError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, ERR_CRL, options)
  }
}

export const ERR_TASK_NOT_FOUND = 'ERR_TASK_NOT_FOUND'
/** No task or session of that id on its owner (never there, or forgotten after `resultTtlMs`). */
export class TaskNotFoundError extends GridError {
  readonly id: string
  constructor (id: string, what: 'task' | 'session' = 'task') {
    super(what === 'task'
      ? `no task ${id} on its owner (never submitted there, or forgotten: its result expired or its session is done)`
      : `no session ${id} on its owner (never opened there, or forgotten once closed and done)`, ERR_TASK_NOT_FOUND)
    this.id = id
  }
}

export const ERR_TASK_NOT_REGISTERED = 'ERR_TASK_NOT_REGISTERED'
/** A task asked for by a name the node has not registered (`node.tasks.register`, `grid node --task`). */
export class TaskNotRegisteredError extends GridError {
  constructor (name: string, registered: string[]) {
    super(`no task registered as "${name}" on this node${registered.length === 0 ? ' (it registers none)' : ` (it registers ${registered.slice(0, 20).join(', ')})`}`, ERR_TASK_NOT_REGISTERED)
  }
}

export const ERR_TASK_LIMIT = 'ERR_TASK_LIMIT'
/** A bound of the remote task service was reached (shipped-module quota, remotely opened sessions). */
export class TaskLimitError extends GridError {
  constructor (message: string) {
    super(message, ERR_TASK_LIMIT, { retryable: true })
  }
}

export const ERR_UNAUTHORIZED = 'ERR_UNAUTHORIZED'
/** An HTTP API request without a valid credential (no bearer token, a bad signature, expired). */
export class UnauthorizedError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, ERR_UNAUTHORIZED, options)
  }
}

export const ERR_NOT_FOUND = 'ERR_NOT_FOUND'
/** A task, session or hook this node does not know; `owner` names the node that owns an id made elsewhere. */
export class NotFoundError extends GridError {
  readonly owner?: string
  constructor (message: string, options?: { owner?: string }) {
    super(message, ERR_NOT_FOUND)
    this.owner = options?.owner
  }
}

export const ERR_HOOK_SIGNATURE = 'ERR_HOOK_SIGNATURE'
/** A webhook call whose signature or timestamp does not hold (wrong secret, stale, replayed). */
export class HookSignatureError extends GridError {
  constructor (message: string) {
    super(message, ERR_HOOK_SIGNATURE)
  }
}

export const ERR_RATE_LIMITED = 'ERR_RATE_LIMITED'
/** Too many HTTP API requests from one subject in the window; retry after `retryAfterMs`. */
export class RateLimitedError extends GridError {
  readonly retryAfterMs: number
  constructor (retryAfterMs: number) {
    super(`too many requests: retry in ${Math.ceil(retryAfterMs / 1000)} s`, ERR_RATE_LIMITED, { retryable: true })
    this.retryAfterMs = retryAfterMs
  }
}

export const ERR_TOO_MANY_STREAMS = 'ERR_TOO_MANY_STREAMS'
/** The HTTP API has as many live streams (event streams, WebSockets) open as it allows. */
export class TooManyStreamsError extends GridError {
  constructor (max: number) {
    super(`${max} live streams are open already; retry later`, ERR_TOO_MANY_STREAMS, { retryable: true })
  }
}

export const ERR_RESULT_TOO_LARGE = 'ERR_RESULT_TOO_LARGE'
/** A task's result is larger, as JSON, than `tasks.maxResultBytes`: the task fails rather than keep (and journal) it. */
export class ResultTooLargeError extends GridError {
  readonly taskId: string
  constructor (taskId: string, detail: string, options?: { cause?: unknown }) {
    super(`task ${taskId}: ${detail}`, ERR_RESULT_TOO_LARGE, options)
    this.taskId = taskId
  }
}

export const ERR_JOURNAL = 'ERR_JOURNAL'
/** The task journal (`tasks.sqlite` in the data dir) cannot be opened or read: the node does not start rather than lose its tasks. */
export class JournalError extends GridError {
  readonly path: string
  constructor (path: string, detail: string, options?: { cause?: unknown }) {
    super(`task journal ${path}: ${detail}${causeText(options?.cause)}; move it aside to start without it, or pass tasks: { durable: false }`, ERR_JOURNAL, options)
    this.path = path
  }
}
