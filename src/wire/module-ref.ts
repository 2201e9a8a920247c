import { createHash } from 'node:crypto'

/** A stage travels as one bundle (its relative imports inlined); 4 MiB is far beyond a sensible stage. */
export const MAX_MODULE_BYTES = 4 * 1024 * 1024
export const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts'])

/** What a requester says about the stage module it wants run. */
export interface ModuleRef {
  /** The entry's path on the requester's machine: bare imports resolve beside it where the agent has that directory. */
  path: string
  /** Of the bundle (the entry with its relative imports inlined), which is what the agent imports. */
  sha256: string
  /** The bundle, sent only when the agent asks for it. */
  source?: string
}

export function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
