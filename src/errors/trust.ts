/** Who may do what: roles and revocation. */
import { GridError } from './base.ts'

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


export const ERR_CRL = 'ERR_CRL'
/** A certificate revocation list that is malformed, too large, or not signed by the grid CA. */
export class CrlError extends GridError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, ERR_CRL, options)
  }
}

export const ERR_JOIN = 'ERR_JOIN'
/**
 * A join with a token failed: the token is malformed, expired, spent or revoked,
 * the peer's CA does not match the token's hash, or the issuing node refused.
 */
export class JoinError extends GridError {
  constructor (message: string, options?: { cause?: unknown, retryable?: boolean }) {
    super(message, ERR_JOIN, options)
  }
}
