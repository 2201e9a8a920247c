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

/** `: <the cause's message>`, or nothing. */
export function causeText (cause: unknown): string {
  return cause instanceof Error ? `: ${cause.message}` : ''
}
