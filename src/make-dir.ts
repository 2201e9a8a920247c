import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'

/** mkdir failures that say the path given cannot be a directory of this user's: another path fixes them. */
const PATH_CODES = new Set(['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'ENAMETOOLONG', 'ELOOP', 'EINVAL'])

export interface MakeDirErrors {
  /** The path is at fault (a file in the way, no permission): bad input, `why` says what. */
  path: (why: string, cause: unknown) => Error
  /** A full, read-only or failing disk (ENOSPC, EROFS, EIO, …): no usage error. */
  disk: (cause: unknown) => Error
}

/**
 * mkdir -p, its failure classified for the one who asked: a bad path (a file in the way was a raw EEXIST or
 * ENOTDIR stack) or a disk that cannot hold it. One source for every directory the CLI makes from a flag.
 */
export async function makeDir (dir: string, mode: number, errors: MakeDirErrors): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode }).catch(async (err: unknown) => { await levelByLevel(dir, mode, err) })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code == null || !PATH_CODES.has(code)) throw errors.disk(err)
    const why = code === 'EEXIST'
      ? `${dir} exists and is not a directory`
      : code === 'ENOTDIR' ? `cannot create ${dir}: part of its path is a file, not a directory` : `cannot create ${dir}: ${(err as Error).message}`
    throw errors.path(why, err)
  }
}

/**
 * A recursive mkdir fails with ENOENT where it could not make a parent, whatever stopped it (a read-only
 * filesystem reads as a missing path): made one level at a time again, the real error shows. `err` otherwise.
 */
async function levelByLevel (dir: string, mode: number, err: unknown): Promise<void> {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  const levels: string[] = []
  for (let at = dir; dirname(at) !== at; at = dirname(at)) levels.unshift(at)
  for (const level of levels) {
    await mkdir(level, { mode }).catch((e: unknown) => { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e })
  }
}
