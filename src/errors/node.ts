/** Configuration, certificates, transport and remote errors. */
import { GridError, causeText } from './base.ts'

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

export const ERR_FILE_LOCKED = 'ERR_FILE_LOCKED'
/** Another process held a file's lock (`<file>.lock`) for longer than the wait allowed; `advice` says what to do. */
export class FileLockedError extends GridError {
  readonly path: string
  constructor (path: string, waitedMs: number, holder: string, advice: string) {
    super(`${path} is locked by ${holder}: gave up after ${waitedMs} ms; ${advice}`, ERR_FILE_LOCKED, { retryable: true })
    this.path = path
  }
}

export const ERR_FILE_LOCK_LOST = 'ERR_FILE_LOCK_LOST'
/**
 * A file's lock was taken over (judged stale) while its holder still worked under it: the
 * holder's change was not written, as it was made from what it read before the takeover.
 */
export class FileLockLostError extends GridError {
  readonly path: string
  constructor (path: string, holder: string) {
    super(`${path} was taken over by ${holder} while this process held it (it was paused longer than the lock's stale time?): its change was not written; retry`, ERR_FILE_LOCK_LOST, { retryable: true })
    this.path = path
  }
}

/**
 * A directory gridd makes could not be made for a reason outside the path given: the disk is full, the
 * filesystem read-only or failing (`syscallCode`: ENOSPC, EROFS, EIO, …). Not bad input: the CLI exits 1.
 */
abstract class DirUnmakeableError extends GridError {
  readonly path: string
  readonly syscallCode: string | undefined
  constructor (what: string, path: string, code: string, options: { cause: unknown }) {
    super(`cannot create ${what} ${path}: ${(options.cause as Error).message}`, code, options)
    this.path = path
    this.syscallCode = (options.cause as NodeJS.ErrnoException).code
  }
}

export const ERR_DATA_DIR = 'ERR_DATA_DIR'
/** The data dir could not be created: the disk, not the path given, is at fault. */
export class DataDirError extends DirUnmakeableError {
  constructor (path: string, options: { cause: unknown }) {
    super('the data dir', path, ERR_DATA_DIR, options)
  }
}

export const ERR_CERTS_DIR = 'ERR_CERTS_DIR'
/** The certificates directory `grid certs init` makes could not be created: the disk, not the path given, is at fault. */
export class CertsDirError extends DirUnmakeableError {
  constructor (path: string, options: { cause: unknown }) {
    super('the certificates directory', path, ERR_CERTS_DIR, options)
  }
}

export const ERR_UNSAFE_DEV_CERTS = 'ERR_UNSAFE_DEV_CERTS'
/**
 * `--dev`'s CA directory in the temp dir (or a file in it) is not this user's
 * alone: another local user could have planted a CA there, or read its key.
 */
export class UnsafeDevCertsError extends GridError {
  readonly path: string
  constructor (path: string, reason: string, dir: string) {
    super(`${path} ${reason}: --dev will not use a CA another local user could have planted or read; remove ${dir} (\`rm -rf ${dir}\`) and a new throwaway CA is made`, ERR_UNSAFE_DEV_CERTS)
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
  /** `hint`: what the user might check, after the cause. */
  constructor (address: string, options?: { cause?: unknown, hint?: string }) {
    super(`could not reach ${address}${causeText(options?.cause)}${options?.hint != null ? ` (${options.hint})` : ''}`, ERR_PEER_UNREACHABLE, { cause: options?.cause, retryable: true })
  }
}

export const ERR_PROTOCOL_NOT_SERVED = 'ERR_PROTOCOL_NOT_SERVED'
/** The peer answered, but serves no such protocol (an add-on's protocol on a node where that add-on is not in use). */
export class ProtocolNotServedError extends GridError {
  readonly protocol: string
  constructor (peer: string, protocol: string, options?: { cause?: unknown }) {
    super(`${peer} does not serve ${protocol}: no add-on serving it is in use there`, ERR_PROTOCOL_NOT_SERVED, options)
    this.protocol = protocol
  }
}

export const ERR_NODE_STOPPED = 'ERR_NODE_STOPPED'
/**
 * An operation on a node that is not running. Retryable when what was asked goes on after a restart (a wait on a
 * task its durable owner's graceful stop left in the journal): `message` then says so.
 */
export class NodeStoppedError extends GridError {
  constructor (message = 'the node is not running', options?: { retryable?: boolean, cause?: unknown }) {
    super(message, ERR_NODE_STOPPED, options)
  }
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
