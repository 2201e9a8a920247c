import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SpawnRefusedError } from '../errors.ts'
import { MODULE_EXTENSIONS, sha256 } from '../wire/module-ref.ts'
import type { ModuleRef } from '../wire/module-ref.ts'

/**
 * Agent side: the local path of the requester's stage bundle, or undefined
 * when the requester must send it. Bundles are cached by content hash in the
 * data dir and always imported from there (never the requester's own path,
 * even where this machine has it): a bundle carries its relative imports, so
 * it runs the same on every agent.
 */
export async function locateModule (ref: ModuleRef, dataDir: string): Promise<string | undefined> {
  if (!MODULE_EXTENSIONS.has(extname(ref.path)) || !/^[0-9a-f]{64}$/.test(ref.sha256)) throw new SpawnRefusedError('invalid module reference')
  // a bundle is JavaScript whatever its entry was written in
  const cached = join(dataDir, 'modules', `${ref.sha256}.mjs`)
  if (ref.source != null) {
    if (sha256(ref.source) !== ref.sha256) throw new SpawnRefusedError('shipped module source does not match its sha256')
    await mkdir(join(dataDir, 'modules'), { recursive: true })
    // write-then-rename: a concurrent spawn never imports a half-written file
    const staging = `${cached}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(staging, ref.source, { mode: 0o644 })
    await rename(staging, cached)
    return cached
  }
  const text = await readFile(cached, 'utf8').catch(() => undefined)
  return text != null && sha256(text) === ref.sha256 ? cached : undefined
}
