import { realpath, stat } from 'node:fs/promises'
import { isAbsolute, relative, resolve } from 'node:path'
import { ConfigError, ModuleNotAllowedError } from '../errors.ts'

/** Allowed module dirs as real paths (symlinks resolved once, at start); each must be a directory. */
export async function resolveModuleDirs (dirs: string[]): Promise<string[]> {
  return await Promise.all(dirs.map(async dir => {
    const real = await realpath(resolve(dir)).catch((err: Error) => { throw new ConfigError('agent.moduleDirs', `${dir}: ${err.message}`, { cause: err }) })
    if (!(await stat(real)).isDirectory()) throw new ConfigError('agent.moduleDirs', `${dir} is not a directory`)
    return real
  }))
}

export function isInside (path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/**
 * The file a requester named, to run in place, when it lies in one of the allowed module dirs
 * (`--module-dir`: code the operator deployed, imports resolved beside it). Undefined when the
 * path is outside them or not there: the requester's path is then only a label, and the code
 * runs from the content-addressed cache or not at all. A path inside a dir that leads out of
 * it (a symbolic link) is refused: ModuleNotAllowedError.
 */
export async function moduleInDirs (path: string, dirs: string[]): Promise<string | undefined> {
  if (!isAbsolute(path)) return undefined
  const named = resolve(path)
  if (!dirs.some(dir => isInside(named, dir))) return undefined
  const real = await realpath(named).catch(() => undefined)
  if (real == null) return undefined
  if (!dirs.some(dir => isInside(real, dir))) throw new ModuleNotAllowedError(path, `it leads to ${real}, outside the allowed module dirs`)
  if (!(await stat(real)).isFile()) throw new ModuleNotAllowedError(path, 'it is not a file')
  return real
}
