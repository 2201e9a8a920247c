import * as v from 'valibot'
import { ERR_FORBIDDEN, ForbiddenError } from '../errors.ts'
import { toWireError, wireErrorSchema } from '../wire/wire-error.ts'

/**
 * The one frame a refused stream gets before it closes: it parses as the
 * `{ ok: false, code, error }` answer of every request/response protocol, and
 * `JsonStream.read` turns it into a ForbiddenError for the others (status,
 * sync, worker streams), so a refused caller always learns ERR_FORBIDDEN.
 */
export function refusalFrame (err: ForbiddenError): { ok: false, code: string, error: ReturnType<typeof toWireError> } {
  return { ok: false, code: ERR_FORBIDDEN, error: toWireError(err) }
}

const refusalSchema = v.object({ ok: v.literal(false), code: v.literal(ERR_FORBIDDEN), error: wireErrorSchema })

/** The ForbiddenError a refusal frame stands for; undefined for any other message. */
export function refusalOf (value: unknown): ForbiddenError | undefined {
  // the cheap test first: every message of every JsonStream passes here (worker result batches too)
  if (typeof value !== 'object' || value === null || (value as { code?: unknown }).code !== ERR_FORBIDDEN) return undefined
  const parsed = v.safeParse(refusalSchema, value)
  return parsed.success ? new ForbiddenError(parsed.output.error.message) : undefined
}
