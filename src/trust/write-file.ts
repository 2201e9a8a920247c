import { randomBytes } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'

/** Write-then-rename: a reader (or a crash) never sees half a file. */
export async function writeFileAtomic (path: string, text: string, mode: number): Promise<void> {
  const staging = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(staging, text, { mode })
    await rename(staging, path)
  } catch (err) {
    await rm(staging, { force: true })
    throw err
  }
}
