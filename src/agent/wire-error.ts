import { z } from 'zod'

/** An error as it crosses a process or network boundary: name, message, stack and code survive. */
export const wireErrorSchema = z.object({
  name: z.string().max(256),
  message: z.string().max(64 * 1024),
  stack: z.string().max(256 * 1024).optional(),
  code: z.string().max(128).optional()
})

export type WireError = z.infer<typeof wireErrorSchema>

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
