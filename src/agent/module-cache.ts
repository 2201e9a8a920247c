import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SpawnRefusedError } from '../errors.ts'
import { MODULE_EXTENSIONS, sha256 } from '../wire/module-ref.ts'
import type { ModuleRef } from '../wire/module-ref.ts'

/**
 * Agent side: a local path holding exactly that module, or undefined when the
 * requester must send the source. Shipped sources are cached by content hash
 * in the data dir, keeping the extension so TypeScript stages still strip.
 */
export async function locateModule (ref: ModuleRef, dataDir: string): Promise<string | undefined> {
  const ext = extname(ref.path)
  if (!MODULE_EXTENSIONS.has(ext) || !/^[0-9a-f]{64}$/.test(ref.sha256)) throw new SpawnRefusedError('invalid module reference')
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
