import { readFileSync } from 'node:fs'

/**
 * Whether `pid` is a live process. A zombie is not: a worker orphaned by its agent's death has exited,
 * but is reaped by init whenever init gets to it (1-1.3 s after the exit on this project's sandbox, on
 * other machines later still), and until then `process.kill(pid, 0)` succeeds as for a live one.
 */
export function processRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...", comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    // gone since (Linux), or no /proc to tell (the signal answered: running)
    return process.platform !== 'linux'
  }
}
