import { accessSync, constants } from 'node:fs'

/** Where util-linux installs setpriv; PATH is not consulted (the agent's environment is not the library's to read). */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv']

/**
 * How a worker dies with its agent. With util-linux's `setpriv --pdeathsig KILL`
 * (Linux's PR_SET_PDEATHSIG, out of Node's own reach) the kernel kills the worker
 * the moment its agent dies, busy loop or not, at no cost; without it, the worker
 * runs a watchdog thread (a second V8 isolate, ~17 MB) that polls its parent.
 */
export interface DeathSignal {
  /** fork's `execPath` and the arguments before Node's own: the worker is started through setpriv. */
  execPath?: string
  prefix: string[]
  /** The worker must watch its parent itself. */
  watchdog: boolean
}

export function deathSignal (platform = process.platform): DeathSignal {
  if (platform !== 'linux') return { prefix: [], watchdog: true }
  for (const path of SETPRIV_PATHS) {
    try {
      accessSync(path, constants.X_OK)
      return { execPath: path, prefix: ['--pdeathsig', 'KILL', '--', process.execPath], watchdog: false }
    } catch {}
  }
  return { prefix: [], watchdog: true }
}
