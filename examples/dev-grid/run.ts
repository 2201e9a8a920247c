/**
 * `npm start`: a one-machine dev grid of three `grid node --dev` processes
 * that join each other, with every node's status printed.
 * Ctrl-C stops them; `--once` prints the status and stops (used by tests).
 */
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const GRID = fileURLToPath(new URL('../../bin/grid.ts', import.meta.url))
const NODES = 3
const once = process.argv.includes('--once')
const run = promisify(execFile)

const ports = await freePorts(4100, NODES)
const children: ChildProcess[] = []
for (const [i, port] of ports.entries()) {
  // a chain: each node only knows the one before it; membership meshes them
  const peer = i === 0 ? [] : ['--peer', `127.0.0.1:${ports[i - 1]}`]
  const child = spawn(process.execPath, [GRID, 'node', '--dev', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...peer], { stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  console.log(`started node ${i + 1} on 127.0.0.1:${port}${i === 0 ? '' : ` (joining 127.0.0.1:${ports[i - 1]})`}`)
}

let stopping = false
async function stopAll (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  await Promise.all(children.map(async child => {
    if (child.exitCode != null) return
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
  }))
  process.exit(code)
}
process.on('SIGINT', () => { void stopAll(0) })
process.on('SIGTERM', () => { void stopAll(0) })
for (const child of children) child.on('exit', code => { if (!stopping) { console.error(`a node exited early (code ${code})`); void stopAll(1) } })

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

async function freePorts (from: number, count: number): Promise<number[]> {
  const found: number[] = []
  for (let port = from; found.length < count && port < from + 100; port++) {
    if (await isFree(port)) found.push(port)
  }
  return found
}

async function isFree (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
