import { Worker } from 'node:worker_threads'

// Runs on its own thread, so a worker busy in `process` or stuck in `setup` still notices its agent's death
// (the IPC 'disconnect' event needs the main thread's event loop). Linux's PR_SET_PDEATHSIG is out of Node's reach.
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads')
setInterval(() => {
  if (process.ppid !== workerData.parent) process.kill(process.pid, 'SIGKILL')
}, workerData.intervalMs)
`

/**
 * Kills this process (SIGKILL) once its parent changes, i.e. the agent that
 * forked it died and it was reparented. Does not keep the process alive.
 */
export function watchParent (intervalMs = 250): void {
  // not forked by an agent (no IPC channel): there is no parent to outlive
  if (process.send == null) return
  const watchdog = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { parent: process.ppid, intervalMs } })
  watchdog.unref()
}
