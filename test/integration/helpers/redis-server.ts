import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { onPath } from '../../../scripts/ensure-test-deps.ts'
import { freePort } from './ports.ts'

export interface RedisServer {
  port: number
  url: string
  stop: () => Promise<void>
}

/**
 * A real redis-server (Debian's) on a free loopback port, persistence off
 * (no RDB, no AOF: nothing left on disk), for the durable-pipeline tests and
 * the benches. `stop()` ends it; it is also killed if it does not start.
 */
export async function startRedis (): Promise<RedisServer> {
  if (!onPath('redis-server')) throw new Error("redis-server is missing; install Debian's: apt-get update && apt-get install -y redis-server (npm test's pretest does it as root)")
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const stop = async (): Promise<void> => {
    if (child.exitCode != null || child.signalCode != null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }
  try {
    let seen = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`redis-server did not start: ${seen.slice(-500)}`)) }, 20_000)
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        if (/Ready to accept connections/.test(seen)) { clearTimeout(timer); resolve() }
      })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}): ${seen.slice(-500)}`)) })
    })
  } catch (err) {
    await stop()
    throw err
  }
  // keep draining its output so a chatty server never blocks on a full pipe
  child.stdout!.resume()
  return { port, url: `redis://127.0.0.1:${port}`, stop }
}
