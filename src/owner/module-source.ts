import { readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { SpawnRefusedError } from '../errors.ts'
import { MAX_MODULE_BYTES, MODULE_EXTENSIONS, sha256 } from '../wire/module-ref.ts'
import type { ModuleRef } from '../wire/module-ref.ts'

/** Requester side: the module as it is on disk here. */
export async function readModule (path: string): Promise<ModuleRef & { source: string }> {
  const absolute = resolve(path)
  if (!MODULE_EXTENSIONS.has(extname(absolute))) throw new SpawnRefusedError(`stage module ${absolute} must be a .js, .mjs, .ts or .mts file`)
  const source = await readFile(absolute, 'utf8').catch((err: Error) => { throw new SpawnRefusedError(`cannot read stage module ${absolute}: ${err.message}`) })
  if (Buffer.byteLength(source) > MAX_MODULE_BYTES) throw new SpawnRefusedError(`stage module ${absolute} is over ${MAX_MODULE_BYTES} bytes; bundle it smaller`)
  return { path: absolute, sha256: sha256(source), source }
}
