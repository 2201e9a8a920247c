import { chmod, chown, mkdir, stat as statOf } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { ConfigError, DataDirError } from './errors.ts'
import type { Logger } from './logger.ts'

/**
 * Where a node keeps its state by default: `<stateHome>/gridd/<peerId>`, per user and never
 * in the world-writable temp dir (a local user could plant files there). `stateHome` is
 * `$XDG_STATE_HOME` when the CLI passes it, else `~/.local/state` (the XDG default).
 */
export function defaultDataDir (peerId: string, stateHome?: string): string {
  const base = stateHome != null && isAbsolute(stateHome) ? stateHome : join(homedir(), '.local', 'state')
  return join(base, 'gridd', peerId)
}

export interface DataDirAccess {
  /** A group (the worker user's) that may traverse the dir, to reach the module cache inside: mode 0710. */
  traverseGid?: number
}

/**
 * Creates the data dir (mode 0700, or 0710 for a worker group) or checks the one that is there.
 * Refused (ConfigError): a dir owned by another user, or one that others could write to: files in
 * it may have been planted (worker records name pids this agent kills; modules are code). A dir
 * that others could only read or list is tightened in place, with a log line.
 */
export async function prepareDataDir (dir: string, log: Logger, access: DataDirAccess = {}): Promise<void> {
  const mode = access.traverseGid == null ? 0o700 : 0o710
  await makeDir(dir, mode)
  // a symbolic link is followed: what counts is the directory it leads to
  const stat = await statOf(dir)
  const self = process.getuid?.()
  if (!stat.isDirectory()) throw new ConfigError('dataDir', `${dir} is not a directory`)
  if (self != null && stat.uid !== self) {
    throw new ConfigError('dataDir', `${dir} belongs to uid ${stat.uid}, not to this user (uid ${self}): whoever owns it controls what this node runs and reaps; chown it or pick another --data-dir`)
  }
  const current = stat.mode & 0o777
  if ((current & 0o022) !== 0) {
    throw new ConfigError('dataDir', `${dir} is writable by ${(current & 0o002) !== 0 ? 'everyone' : 'its group'} (mode ${octal(current)}): files in it may have been planted; check it, then chmod 700 it, or pick another --data-dir`)
  }
  if (access.traverseGid != null && stat.gid !== access.traverseGid) await chown(dir, stat.uid, access.traverseGid)
  if (current !== mode) {
    await chmod(dir, mode)
    log.info({ dataDir: dir, was: octal(current), now: octal(mode) }, 'data dir mode tightened')
  }
}

/** mkdir failures that say the path given cannot be a data dir of this user's: another --data-dir fixes them. */
const PATH_CODES = new Set(['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'ENAMETOOLONG', 'ELOOP', 'EINVAL'])

/**
 * mkdir -p, its failures naming the option to fix (a file in the way was a raw EEXIST stack and exit 1) when
 * the path is at fault; a full, read-only or failing disk (ENOSPC, EROFS, EIO, …) is no usage error: DataDirError.
 */
async function makeDir (dir: string, mode: number): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode }).catch(async (err: unknown) => { await levelByLevel(dir, mode, err) })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code == null || !PATH_CODES.has(code)) throw new DataDirError(dir, { cause: err })
    const why = code === 'EEXIST'
      ? `${dir} exists and is not a directory`
      : code === 'ENOTDIR' ? `cannot create ${dir}: part of its path is a file, not a directory` : `cannot create ${dir}: ${(err as Error).message}`
    throw new ConfigError('dataDir', `${why}; pick another --data-dir`, { cause: err })
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

export function octal (mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`
}
