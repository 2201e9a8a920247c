/** Workers, agents, placement, pipelines, add-ons and channels. */
import { GridError, causeText } from './base.ts'

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

export const ERR_STAGE_SETUP = 'ERR_STAGE_SETUP'
/**
 * A worker ended before its stage's `setup` was done (it threw, or the module did not load): the items
 * sent to it never ran, so they are not its suspects. A stage whose workers keep failing so fails its run
 * with it (the cause is the stage's own error, with its remote stack).
 */
export class StageSetupError extends GridError {
  readonly workerId: string
  constructor (workerId: string, detail: string, options?: { cause?: unknown }) {
    super(`worker ${workerId} failed in its stage's setup: ${detail}`, ERR_STAGE_SETUP, { ...options, retryable: true })
    this.workerId = workerId
  }
}

export const ERR_WORKER_STOPPED = 'ERR_WORKER_STOPPED'
/**
 * A worker was stopped from outside while items were in flight: its agent stopping, a kill by its owner
 * or an admin, or a stop request (SIGTERM, SIGINT, SIGHUP) the agent did not send. Not the items' fault:
 * they run again elsewhere, no crash counted against them (nor an attempt, for a task).
 */
export class WorkerStoppedError extends GridError {
  readonly workerId: string
  constructor (workerId: string, detail: string) {
    super(`worker ${workerId} was stopped: ${detail}`, ERR_WORKER_STOPPED, { retryable: true })
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
/**
 * A worker went over its memory limit: the agent's watchdog killed it for its resident memory (`rssMb`), or
 * V8 aborted it when its JS heap reached --max-old-space-size (`rssMb` undefined).
 */
export class MemoryLimitError extends GridError {
  readonly rssMb: number | undefined
  readonly limitMb: number
  constructor (workerId: string, rssMb: number | undefined, limitMb: number) {
    super(rssMb == null
      ? `worker ${workerId} filled its JS heap (--max-old-space-size, from its ${limitMb} MB limit) and V8 aborted it`
      : `worker ${workerId} used ${rssMb} MB resident, over its ${limitMb} MB limit`, ERR_MEMORY_LIMIT)
    this.rssMb = rssMb
    this.limitMb = limitMb
  }
}

export const ERR_AGENT_LOST = 'ERR_AGENT_LOST'
/** The agent hosting a worker failed, left, or became unreachable. */
export class AgentLostError extends GridError {
  readonly agentId: string
  /** The agent left the grid (a graceful stop, which stops its workers): not the work's doing, as a failure may be. */
  readonly left: boolean
  constructor (agentId: string, detail: string, options: { left?: boolean } = {}) {
    super(`agent ${agentId} lost: ${detail}`, ERR_AGENT_LOST, { retryable: true })
    this.agentId = agentId
    this.left = options.left === true
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

export const ERR_ITEM_TIMEOUT = 'ERR_ITEM_TIMEOUT'
/**
 * An item's attempt ran on its worker longer than its stage's `itemTimeoutMs`: that attempt failed (retried up
 * to `maxAttempts` like the item's own error), its `ctx.signal` was aborted, and a worker that still ran it
 * after a grace was killed.
 */
export class ItemTimeoutError extends GridError {
  readonly stage: string
  readonly timeoutMs: number
  constructor (stage: string, timeoutMs: number) {
    super(`stage "${stage}": an item ran longer than its itemTimeoutMs (${timeoutMs} ms)`, ERR_ITEM_TIMEOUT, { retryable: true })
    this.stage = stage
    this.timeoutMs = timeoutMs
  }
}

export const ERR_PIPELINE_CANCELLED = 'ERR_PIPELINE_CANCELLED'
/** A pipeline run was cancelled before it finished. */
export class PipelineCancelledError extends GridError {
  constructor (name: string) {
    super(`pipeline "${name}" was cancelled`, ERR_PIPELINE_CANCELLED)
  }
}

export const ERR_DEAD_LETTER = 'ERR_DEAD_LETTER'
/**
 * A pipeline's `deadLetter` threw or rejected for an item that failed for good (its cause), or fell more
 * than MAX_PENDING_DEAD_LETTERS items behind: the run fails, as when its sink rejects, and the item's
 * entry is not acknowledged, so a durable source reads it again.
 */
export class DeadLetterError extends GridError {
  readonly itemId: string
  constructor (pipeline: string, itemId: string, detail: string, options?: { cause?: unknown }) {
    super(`pipeline "${pipeline}": deadLetter failed for item ${itemId}: ${detail}${causeText(options?.cause)}`, ERR_DEAD_LETTER, { ...options, retryable: true })
    this.itemId = itemId
  }
}

export const ERR_CONNECTOR_CLOSED = 'ERR_CONNECTOR_CLOSED'
/** A durable connector's command still waiting for its queue (Redis away or stalled) when the connector was closed. */
export class ConnectorClosedError extends GridError {
  constructor (connector: string) {
    super(`${connector} was closed while the command waited for its queue`, ERR_CONNECTOR_CLOSED)
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

export const ERR_NOT_SERIALIZABLE = 'ERR_NOT_SERIALIZABLE'
/**
 * An item or result JSON cannot encode (a BigInt, a cycle, nesting past the stack) on its way between an
 * owner and a remote agent, a result a worker's structured-clone IPC cannot copy (a function, a symbol),
 * or one a durable sink cannot encode:
 * that item fails with it, as its own error; the rest of its batch goes on.
 */
export class NotSerializableError extends GridError {
  /** `how`: why it cannot cross, when not for JSON ("cannot be sent back from the worker (…)"). */
  constructor (what: string, cause: unknown, how?: string) {
    super(`${what} ${how ?? 'is not JSON-serializable'}${causeText(cause)}`, ERR_NOT_SERIALIZABLE, { cause })
  }
}

export const ERR_ITEM_TOO_LARGE = 'ERR_ITEM_TOO_LARGE'
/**
 * An item or result larger, as JSON, than one message of a worker stream may carry: that item fails with
 * it, as its own error. (Sent anyway, the reader would close the stream, and its items would run again
 * on a new worker as after a lost agent, forever.)
 */
export class ItemTooLargeError extends GridError {
  readonly bytes: number
  readonly maxBytes: number
  constructor (what: string, bytes: number, maxBytes: number) {
    super(`${what} is ${bytes} bytes as JSON, over the ${maxBytes} bytes one worker-stream message may carry`, ERR_ITEM_TOO_LARGE)
    this.bytes = bytes
    this.maxBytes = maxBytes
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
