import { chmod, chown, stat as statOf } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { ConfigError, DataDirError } from './errors.ts'
import type { Logger } from './logger.ts'
import { makeDir } from './make-dir.ts'

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
  /** Check a dir that is there (owner, writable by others) but leave its mode and group to the role that sets
   * them later in the start (`--join` checks it before the agent, whose worker group may traverse it: set to
   * 0700 by the join and back to 0710 by the agent at every start, two log lines and a window without access). */
  checkOnly?: boolean
}

/**
 * Creates the data dir (mode 0700, or 0710 for a worker group) or checks the one that is there.
 * Refused (ConfigError): a dir owned by another user, or one that others could write to: files in
 * it may have been planted (worker records name pids this agent kills; modules are code). A dir
 * that others could only read or list is tightened in place, with a log line.
 */
export async function prepareDataDir (dir: string, log: Logger, access: DataDirAccess = {}): Promise<void> {
  const mode = access.traverseGid == null ? 0o700 : 0o710
  await makeDir(dir, mode, {
    path: (why, cause) => new ConfigError('dataDir', `${why}; pick another --data-dir`, { cause }),
    disk: cause => new DataDirError(dir, { cause })
  })
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
  if (access.checkOnly === true) return
  if (access.traverseGid != null && stat.gid !== access.traverseGid) await chown(dir, stat.uid, access.traverseGid)
  if (current !== mode) {
    await chmod(dir, mode)
    log.info({ dataDir: dir, was: octal(current), now: octal(mode) }, 'data dir mode tightened')
  }
}

export function octal (mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`
}
