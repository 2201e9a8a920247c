import { stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where this code lives: inside the gridd package that runs `grid node` (sources, tsc output or the bundle). */
export const GRIDD_CODE = dirname(fileURLToPath(import.meta.url))

/**
 * The directories whose `node_modules` a shipped bundle's bare imports may resolve from: the
 * agent's working directory, then the gridd installation it runs from, each with its ancestors
 * up to (not including) the first that another user could write to, such as /tmp or a
 * group-writable share: a package planted there is never used.
 */
export async function ownPackageRoots (cwd: string, code = GRIDD_CODE): Promise<string[]> {
  const roots: string[] = []
  for (const start of [cwd, code]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (!await trusted(dir)) break
      if (!roots.includes(dir)) roots.push(dir)
      if (dirname(dir) === dir) break
    }
  }
  return roots
}

/** Writable only by its owner, who is root or this user. */
async function trusted (dir: string): Promise<boolean> {
  const info = await stat(dir).catch(() => undefined)
  if (info == null || !info.isDirectory()) return false
  const self = process.getuid?.()
  return (info.mode & 0o022) === 0 && (self == null || info.uid === 0 || info.uid === self)
}
