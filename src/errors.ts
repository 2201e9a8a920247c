/**
 * Every failure gridd reports is a GridError subclass with a stable `code`
 * (match on `code`, never on message text) and whether retrying may help.
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

/** A bad option or flag; `option` names it. */
export class ConfigError extends GridError {
  readonly option: string
  constructor (option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, 'ERR_CONFIG', options)
    this.option = option
  }
}

/** No TLS material could be found anywhere in the configuration chain. */
export class CertsNotFoundError extends GridError {
  constructor (where: string) {
    super(`no certificates found (${where}); run \`grid certs init\` to create a CA and node certificates, or pass --dev for a throwaway one-machine grid`, 'ERR_NO_CERTS')
  }
}

/** A certificate or key is unreadable, malformed, or does not fit its purpose. */
export class CertificateError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_CERTIFICATE', options)
  }
}

/** A file would be overwritten without --force. */
export class FileExistsError extends GridError {
  readonly path: string
  constructor (path: string) {
    super(`${path} already exists (pass --force to overwrite)`, 'ERR_FILE_EXISTS')
    this.path = path
  }
}

/** A peer address that is neither host:port nor a multiaddr. */
export class InvalidAddressError extends GridError {
  constructor (address: string, reason: string) {
    super(`invalid peer address "${address}": ${reason}`, 'ERR_INVALID_ADDRESS')
  }
}

/** The mutual-TLS handshake refused the remote side; `reason` is one of REFUSAL_REASONS. */
export class TlsRefusedError extends GridError {
  readonly reason: string
  constructor (reason: string, message: string) {
    super(message, 'ERR_TLS_REFUSED')
    this.reason = reason
  }
}

/** A message from the network that is too large or does not match its schema. */
export class ProtocolError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_PROTOCOL', options)
  }
}

/** A remote peer could not be reached or did not answer. */
export class PeerUnreachableError extends GridError {
  constructor (address: string, options?: { cause?: unknown }) {
    super(`could not reach ${address}${causeText(options?.cause)}`, 'ERR_PEER_UNREACHABLE', { ...options, retryable: true })
  }
}

/** An operation on a node that is not running. */
export class NodeStoppedError extends GridError {
  constructor () {
    super('the node is not running', 'ERR_NODE_STOPPED')
  }
}

function causeText (cause: unknown): string {
  return cause instanceof Error ? `: ${cause.message}` : ''
}

/** A worker process ended while items were in flight or before it could take one. */
export class WorkerExitedError extends GridError {
  readonly workerId: string
  constructor (workerId: string, detail: string, options?: { cause?: unknown }) {
    super(`worker ${workerId} exited: ${detail}`, 'ERR_WORKER_EXITED', { ...options, retryable: true })
    this.workerId = workerId
  }
}

/** The agent hosting a worker failed, left, or became unreachable. */
export class AgentLostError extends GridError {
  readonly agentId: string
  constructor (agentId: string, detail: string) {
    super(`agent ${agentId} lost: ${detail}`, 'ERR_AGENT_LOST', { retryable: true })
    this.agentId = agentId
  }
}

/** An agent refused a spawn (it no longer fits, or the module is unusable). */
export class SpawnRefusedError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_SPAWN_REFUSED', { ...options, retryable: true })
  }
}

/** No agent has room for a worker; `shortfalls` says what each agent lacked. */
export class NoCapacityError extends GridError {
  readonly shortfalls: Array<{ agentId: string, lacks: string[] }>
  constructor (shortfalls: Array<{ agentId: string, lacks: string[] }>) {
    const detail = shortfalls.length === 0 ? 'no agents in the grid' : shortfalls.map(s => `${s.agentId}: ${s.lacks.join(', ')}`).join('; ')
    super(`no agent can take this worker (${detail})`, 'ERR_NO_CAPACITY', { retryable: true })
    this.shortfalls = shortfalls
  }
}

/** A pipeline run was cancelled before it finished. */
export class PipelineCancelledError extends GridError {
  constructor (name: string) {
    super(`pipeline "${name}" was cancelled`, 'ERR_PIPELINE_CANCELLED')
  }
}

/** `node.use()` of an add-on whose name is already in use on this node. */
export class AddonExistsError extends GridError {
  constructor (name: string) {
    super(`an add-on named "${name}" is already in use on this node`, 'ERR_ADDON_EXISTS')
  }
}

/** `node.use()` of an add-on whose dependencies are not in use yet. */
export class AddonDependencyError extends GridError {
  readonly missing: string[]
  constructor (name: string, missing: string[]) {
    super(`add-on "${name}" needs ${missing.map(m => `"${m}"`).join(', ')} in use first`, 'ERR_ADDON_DEPENDENCY')
    this.missing = missing
  }
}

/** An add-on threw in `start`; the node is unharmed and the add-on is not in use. */
export class AddonStartError extends GridError {
  constructor (name: string, cause: unknown) {
    super(`add-on "${name}" failed to start: ${(cause as Error)?.message ?? String(cause)}`, 'ERR_ADDON_START', { cause })
  }
}

/** A channel value larger than the channel's limit once serialized. */
export class ValueTooLargeError extends GridError {
  constructor (key: string, bytes: number, limit: number) {
    super(`value for "${key}" is ${bytes} bytes serialized; the limit is ${limit}`, 'ERR_VALUE_TOO_LARGE')
  }
}

/** A stage module (with its relative imports) could not be bundled for shipping; `file` is where esbuild stopped. */
export class StageBundleError extends GridError {
  readonly stage: string
  readonly file: string
  constructor (stage: string, file: string, detail: string, options?: { cause?: unknown }) {
    super(`stage "${stage}": cannot bundle ${file}: ${detail}`, 'ERR_STAGE_BUNDLE', options)
    this.stage = stage
    this.file = file
  }
}
