import { randomBytes } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'

/**
 * Write-then-rename: a reader (or a crash) never sees half a file. `beforeRename` may still
 * refuse the write by throwing (a lock's holder checks it still holds the lock).
 */
export async function writeFileAtomic (path: string, text: string, mode: number, beforeRename?: () => Promise<void>): Promise<void> {
  const staging = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(staging, text, { mode })
    await beforeRename?.()
    await rename(staging, path)
  } catch (err) {
    await rm(staging, { force: true })
    throw err
  }
}
