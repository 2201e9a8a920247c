import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onPath } from '../../../scripts/ensure-test-deps.ts'
import { freePort, waitPortFree } from './ports.ts'

export interface RedisServer {
  port: number
  url: string
  /** Sends `signal` to the server (SIGKILL it, SIGSTOP and SIGCONT it); waits for its exit on SIGKILL. */
  signal: (signal: NodeJS.Signals) => Promise<void>
  /** Starts the server again on the same port (after a SIGKILL), with what it had persisted. */
  restart: () => Promise<void>
  /** Ends the server (a stopped one is continued first) and removes its data dir. */
  stop: () => Promise<void>
}

export interface StartRedisOptions {
  /** Every write in an append-only file (fsync always) in a temp dir, kept across `restart()`. Default false: nothing on disk. */
  persist?: boolean
}

/**
 * A real redis-server (Debian's) on a free loopback port, for the durable-pipeline
 * tests and the benches: persistence off (no RDB, no AOF) unless `persist`, then
 * an AOF in a temp dir, so a SIGKILL and a `restart()` keep every acknowledged
 * write. `stop()` ends it; it is also killed if it does not start.
 */
export async function startRedis (options: StartRedisOptions = {}): Promise<RedisServer> {
  if (!onPath('redis-server')) throw new Error("redis-server is missing; install Debian's: apt-get update && apt-get install -y redis-server (npm test's pretest does it as root)")
  const port = await freePort()
  const dir = options.persist === true ? await mkdtemp(join(tmpdir(), 'gridd-redis-')) : undefined
  const persistence = dir == null ? ['--appendonly', 'no', '--dir', '/tmp'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
  let child: ChildProcess
  const exited = (): boolean => child.exitCode != null || child.signalCode != null
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: ['ignore', 'pipe', 'inherit'] })
    const started = child
    try {
      let seen = ''
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`redis-server did not start: ${seen.slice(-500)}`)) }, 20_000)
        started.stdout!.on('data', (chunk: Buffer) => {
          seen += chunk.toString()
          if (/Ready to accept connections/.test(seen)) { clearTimeout(timer); resolve() }
        })
        started.once('exit', code => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}): ${seen.slice(-500)}`)) })
      })
    } catch (err) {
      await kill('SIGKILL')
      throw err
    }
    // keep draining its output so a chatty server never blocks on a full pipe
    started.stdout!.resume()
  }
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (exited()) return
    const exit = once(child, 'exit')
    child.kill(signal)
    await exit
  }
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (name === 'SIGKILL' || name === 'SIGTERM') await kill(name)
    else if (!exited()) child.kill(name)
  }
  const stop = async (): Promise<void> => {
    if (!exited()) child.kill('SIGCONT')
    await kill('SIGTERM')
    if (dir != null) await rm(dir, { recursive: true, force: true })
  }
  try {
    await launch()
  } catch (err) {
    if (dir != null) await rm(dir, { recursive: true, force: true })
    throw err
  }
  const restart = async (): Promise<void> => {
    if (!exited()) throw new Error('redis-server is still running')
    await waitPortFree(port)
    await launch()
  }
  return { port, url: `redis://127.0.0.1:${port}`, signal, restart, stop }
}
