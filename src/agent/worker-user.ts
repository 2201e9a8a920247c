import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ConfigError } from '../errors.ts'
import { octal } from '../data-dir.ts'

/** The user workers run as (`--worker-user`): its uid and primary gid. */
export interface WorkerUser {
  name: string
  uid: number
  gid: number
}

/**
 * Looks `user` (a name or uid) up in the system's user database, and checks that this process can
 * switch to it (only root can). Refused with a ConfigError naming `agent.workerUser` otherwise.
 */
export async function resolveWorkerUser (user: string): Promise<WorkerUser> {
  const self = process.getuid?.()
  if (self !== 0) throw new ConfigError('agent.workerUser', `running workers as "${user}" needs an agent started as root (this one runs as uid ${self ?? 'unknown'})`)
  const entry = await passwdEntry(user)
  if (entry == null) throw new ConfigError('agent.workerUser', `no user "${user}" on this machine`)
  const [name, , uid, gid] = entry.split(':')
  const ids = { name: name ?? user, uid: Number(uid), gid: Number(gid) }
  if (!Number.isInteger(ids.uid) || !Number.isInteger(ids.gid)) throw new ConfigError('agent.workerUser', `cannot read the uid and gid of "${user}"`)
  if (ids.uid === 0) throw new ConfigError('agent.workerUser', `"${user}" is root: workers would read everything the agent can`)
  return ids
}

/** `getent passwd` (every source the system uses: files, LDAP, …), else /etc/passwd itself. */
async function passwdEntry (user: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('getent', ['passwd', user], { timeout: 5000 })
    return stdout.split('\n')[0]
  } catch (err) {
    // exit code 2: no such user; anything else (no getent): read the file
    if ((err as { code?: unknown }).code === 2) return undefined
    const lines = (await readFile('/etc/passwd', 'utf8').catch(() => '')).split('\n')
    return lines.find(line => { const [name, , uid] = line.split(':'); return name === user || uid === user })
  }
}

/**
 * Refuses (ConfigError) when `user` could not open `path` for reading: every directory on the way
 * must let it search (x), and the last one must let it read too.
 */
export async function checkReadableBy (user: WorkerUser, path: string, what: string): Promise<void> {
  const chain: string[] = []
  for (let dir = path; ; dir = dirname(dir)) {
    chain.unshift(dir)
    if (dirname(dir) === dir) break
  }
  for (const [i, entry] of chain.entries()) {
    const info = await stat(entry)
    const needs = i === chain.length - 1 ? (info.isDirectory() ? 0o5 : 0o4) : 0o1
    const bits = info.uid === user.uid ? (info.mode >> 6) & 7 : info.gid === user.gid ? (info.mode >> 3) & 7 : info.mode & 7
    if ((bits & needs) !== needs) {
      throw new ConfigError('agent.workerUser', `user ${user.name} (uid ${user.uid}) cannot reach ${what} ${path}: ${entry} is mode ${octal(info.mode)}, owner ${info.uid}, group ${info.gid}; let it through (e.g. chmod o+x on the directories) or pick another place`)
    }
  }
}
