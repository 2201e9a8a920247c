import * as v from 'valibot'

/** An error as it crosses a process or network boundary: name, message, stack and code survive. */
const text = (max: number) => v.pipe(v.string(), v.maxLength(max))

export const wireErrorSchema = v.object({
  name: text(256),
  message: text(64 * 1024),
  stack: v.optional(text(256 * 1024)),
  code: v.optional(text(128))
})

export type WireError = v.InferOutput<typeof wireErrorSchema>

export function toWireError (err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { name: err.name, message: err.message, stack: err.stack, code: typeof code === 'string' ? code : undefined }
  }
  return { name: 'Error', message: String(err) }
}

/** A remote failure rethrown locally, keeping the remote name and stack. */
export class RemoteError extends Error {
  readonly code: string
  readonly remoteStack?: string
  constructor (wire: WireError) {
    super(wire.message)
    this.name = wire.name
    this.code = wire.code ?? 'ERR_REMOTE'
    this.remoteStack = wire.stack
    if (wire.stack != null) this.stack = wire.stack
  }
}
