import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { extname, join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SpawnRefusedError } from '../errors.ts'

/** Stage modules travel as one file (or bundle); 4 MiB is far beyond a sensible stage. */
export const MAX_MODULE_BYTES = 4 * 1024 * 1024
const EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts'])

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

/** Requester side: the module as it is on disk here. */
export async function readModule (path: string): Promise<ModuleRef & { source: string }> {
  const absolute = resolve(path)
  if (!EXTENSIONS.has(extname(absolute))) throw new SpawnRefusedError(`stage module ${absolute} must be a .js, .mjs, .ts or .mts file`)
  const source = await readFile(absolute, 'utf8').catch((err: Error) => { throw new SpawnRefusedError(`cannot read stage module ${absolute}: ${err.message}`) })
  if (Buffer.byteLength(source) > MAX_MODULE_BYTES) throw new SpawnRefusedError(`stage module ${absolute} is over ${MAX_MODULE_BYTES} bytes; bundle it smaller`)
  return { path: absolute, sha256: sha256(source), source }
}

/**
 * Agent side: a local path holding exactly that module, or undefined when the
 * requester must send the source. Shipped sources are cached by content hash
 * in the data dir, keeping the extension so TypeScript stages still strip.
 */
export async function locateModule (ref: ModuleRef, dataDir: string): Promise<string | undefined> {
  const ext = extname(ref.path)
  if (!EXTENSIONS.has(ext) || !/^[0-9a-f]{64}$/.test(ref.sha256)) throw new SpawnRefusedError('invalid module reference')
  const cached = join(dataDir, 'modules', `${ref.sha256}${ext}`)
  if (ref.source != null) {
    if (sha256(ref.source) !== ref.sha256) throw new SpawnRefusedError('shipped module source does not match its sha256')
    await mkdir(join(dataDir, 'modules'), { recursive: true })
    // write-then-rename: a concurrent spawn never imports a half-written file
    const staging = `${cached}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(staging, ref.source, { mode: 0o644 })
    await rename(staging, cached)
    return cached
  }
  for (const candidate of [ref.path, cached]) {
    const text = await readFile(candidate, 'utf8').catch(() => undefined)
    if (text != null && sha256(text) === ref.sha256) return candidate
  }
  return undefined
}
