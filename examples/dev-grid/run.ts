/**
 * `npm run example:dev-grid`: a one-machine dev grid of three `grid node --dev` processes
 * that join each other, with every node's status printed.
 * Ctrl-C stops them; `--once` prints the status and stops (used by tests).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startDevNodes, GRID } from '../shared/dev-nodes.ts'

const NODES = 3
const once = process.argv.includes('--once')
const run = promisify(execFile)

let stopping = false
const grid = await startDevNodes(Array.from({ length: NODES }, () => []), (port, code) => {
  console.error(`the node on ${port} exited early (code ${code})`)
  void stopAll(1)
})
const ports = grid.ports
for (const [i, port] of ports.entries()) console.log(`started node ${i + 1} on 127.0.0.1:${port}${i === 0 ? '' : ` (joining 127.0.0.1:${ports[i - 1]})`}`)

async function stopAll (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  await grid.stop()
  process.exit(code)
}
process.on('SIGINT', () => { void stopAll(0) })
process.on('SIGTERM', () => { void stopAll(0) })

// wait until every node reports the other two, then print each status
const deadline = Date.now() + 30_000
for (const port of ports) {
  while (true) {
    const report = await status(port, true).catch(() => undefined)
    const members = report == null ? 0 : (JSON.parse(report) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length
    if (members >= NODES - 1) break
    if (Date.now() > deadline) { console.error(`node on ${port} did not see the others within 30 s`); await stopAll(1) }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}
for (const port of ports) {
  console.log(`\n$ npx grid status --dev --peer 127.0.0.1:${port}`)
  process.stdout.write(await status(port, false))
}
if (once) {
  await stopAll(0)
} else {
  console.log(`\nthe dev grid is running over mutual TLS (throwaway dev CA); try: npx grid status --dev --peer 127.0.0.1:${ports[0]}\nCtrl-C stops it.`)
}

async function status (port: number, json: boolean): Promise<string> {
  const { stdout } = await run(process.execPath, [GRID, 'status', '--dev', '--peer', `127.0.0.1:${port}`, ...(json ? ['--json'] : [])], { timeout: 10_000 })
  return stdout
}
