/**
 * Starts `grid node --dev` processes on 127.0.0.1 for the one-machine
 * examples: free ports from `from` up, each node pointed only at the one
 * before it (a chain: membership meshes them), stopped with SIGTERM (also when
 * the script dies without stopping them).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export const GRID = fileURLToPath(new URL('../../bin/grid.js', import.meta.url))

export interface DevNodes {
  ports: number[]
  children: ChildProcess[]
  /** SIGTERM to every node still running; resolves once all have exited. */
  stop: () => Promise<void>
}

/** One process per entry of `extraArgs` (e.g. `['--agent']`); `onEarlyExit` runs if one dies before `stop()`. */
export async function startDevNodes (extraArgs: string[][], onEarlyExit: (port: number, code: number | null) => void, from = 4100): Promise<DevNodes> {
  const ports = await freePorts(from, extraArgs.length)
  const children: ChildProcess[] = []
  let stopping = false
  for (const [i, port] of ports.entries()) {
    const peer = i === 0 ? [] : ['--peer', `127.0.0.1:${ports[i - 1]}`]
    const child = spawn(process.execPath, [GRID, 'node', '--dev', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...peer, ...extraArgs[i]!], { stdio: ['ignore', 'ignore', 'inherit'] })
    child.on('exit', code => { if (!stopping) onEarlyExit(port, code) })
    children.push(child)
  }
  // a script that dies (an uncaught error; EPIPE once `npm start | head` stops reading) must not leave its
  // nodes running for ever: 'exit' runs even then, and a kill can be sent from it (nothing async can)
  const orphaned = (): void => { for (const child of children) if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM') }
  process.once('exit', orphaned)
  return {
    ports,
    children,
    stop: async () => {
      stopping = true
      process.off('exit', orphaned)
      await Promise.all(children.map(async child => {
        if (child.exitCode != null || child.signalCode != null) return
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }))
    }
  }
}

async function freePorts (from: number, count: number): Promise<number[]> {
  const found: number[] = []
  for (let port = from; found.length < count && port < from + 200; port++) {
    if (await isFree(port)) found.push(port)
  }
  if (found.length < count) throw new Error(`no ${count} free ports on 127.0.0.1 from ${from}`)
  return found
}

async function isFree (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
