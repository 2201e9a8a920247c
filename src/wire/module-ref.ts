import { createHash } from 'node:crypto'

/** Stage modules travel as one file (or bundle); 4 MiB is far beyond a sensible stage. */
export const MAX_MODULE_BYTES = 4 * 1024 * 1024
export const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts'])

/** What a requester says about the stage module it wants run. */
export interface ModuleRef {
  /** Path on the requester's machine (the agent uses it if it has the very same file). */
  path: string
  sha256: string
  /** Sent only when the agent asks for it. */
  source?: string
}

export function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
