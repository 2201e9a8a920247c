/** The HTTP API add-on. */
import { GridError } from './base.ts'

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
/** Too many requests from one HTTP API subject, or status requests from one peer, in the window; retry after `retryAfterMs`. */
export class RateLimitedError extends GridError {
  readonly retryAfterMs: number
  constructor (retryAfterMs: number) {
    super(`too many requests: retry in ${Math.ceil(retryAfterMs / 1000)} s`, ERR_RATE_LIMITED, { retryable: true })
    this.retryAfterMs = retryAfterMs
  }
}

export const ERR_TOO_MANY_STREAMS = 'ERR_TOO_MANY_STREAMS'
/** The HTTP API has as many live streams (event streams, WebSockets) open as it allows, in all or (`subject`) of one subject. */
export class TooManyStreamsError extends GridError {
  constructor (max: number, subject?: string) {
    super(subject == null ? `${max} live streams are open already; retry later` : `${subject} has ${max} live streams open already, the most one subject may: close one first`, ERR_TOO_MANY_STREAMS, { retryable: true })
  }
}
