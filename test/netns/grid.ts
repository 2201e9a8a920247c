import { GridProcess, GRID_BIN, readyOrKilled, runGrid } from '../integration/helpers/grid-process.ts'
import type { CliResult, LogLine } from '../integration/helpers/grid-process.ts'
import type { TestNetwork } from './network.ts'
import { execFile } from 'node:child_process'

export const GRID_PORT = 4100
export const JOIN_PORT = 4101
/** Fast membership: a heartbeat every 200 ms, suspect after 3 silent ones. */
export const FAST = ['--heartbeat-ms', '200', '--log-level', 'debug']

/**
 * `grid node` inside host `i`'s namespace: bound to 0.0.0.0, announcing the
 * host's own address (a listener on 0.0.0.0 cannot tell which of its addresses others reach).
 */
export async function startInHost (net: TestNetwork, i: number, args: string[]): Promise<GridProcess> {
  const address = net.hosts[i]!.address
  return await readyOrKilled(new GridProcess([], {}, undefined, [...net.exec(i), process.execPath, GRID_BIN, 'node', '--host', '0.0.0.0', '--port', String(GRID_PORT), '--announce', `${address}:${GRID_PORT}`, ...FAST, ...args]))
}

/** `grid <args>` inside host `i`'s namespace. */
export async function gridInHost (net: TestNetwork, i: number, args: string[]): Promise<CliResult> {
  const [file, ...prefix] = net.exec(i)
  return await new Promise(resolve => {
    execFile(file!, [...prefix, process.execPath, GRID_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

export { runGrid }

/** A member event about `peer` logged by `node` (the CLI logs `member:*` events at debug). */
export const memberEvent = (type: string, peer: string) => (line: LogLine): boolean => line.msg === type && line.member === peer

/** Waits until `node` has logged `type` for every one of `peers` since `since`; resolves with when the last one was logged. */
export async function allLogged (node: GridProcess, type: string, peers: string[], since: number, timeoutMs: number): Promise<number> {
  let last = 0
  for (const peer of peers) {
    const line = await node.waitFor(memberEvent(type, peer), timeoutMs, since)
    last = Math.max(last, Number(line.time))
  }
  return last
}
