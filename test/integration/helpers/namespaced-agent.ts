import { spawnSync } from 'node:child_process'
import { GridProcess, GRID_BIN } from './grid-process.ts'

/** Whether this machine lets us give a process its own mount namespace (root, util-linux's unshare). */
export const canUnshare = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0

/**
 * Starts `grid node <args>` in its own mount namespace in which each of
 * `hidden` is an empty tmpfs: the agent cannot see the files there, while
 * the test process (the requester) can. It runs in `cwd`.
 */
export async function startHiddenFromAgent (args: string[], hidden: string[], cwd: string): Promise<GridProcess> {
  const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`
  const mounts = hidden.map(dir => `mount -t tmpfs none ${quote(dir)}`).join(' && ')
  const script = `${mounts} && cd ${quote(cwd)} && exec ${quote(process.execPath)} ${quote(GRID_BIN)} ${args.map(quote).join(' ')}`
  return await new GridProcess([], {}, undefined, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script]).ready()
}
