import { describe, it, expect, onTestFinished } from 'vitest'
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { eventually } from './helpers/grid-process.ts'
import { isPortFree } from './helpers/ports.ts'
import { processRunning } from './helpers/process-state.ts'

const DEMO = fileURLToPath(new URL('../../examples/demo/run.ts', import.meta.url))

/** Pids of the direct children of `pid` (the demo's `grid node` processes). */
/** The demo's `grid node` children (not, say, the esbuild service it starts to bundle a shipped stage). */
function childrenOf (pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n')
      .filter(line => /grid\.js.* node /.test(line)).map(line => Number.parseInt(line.trim(), 10)).filter(n => n > 0)
  } catch {
    return [] // ps exits 1 when there are none
  }
}

const running = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

describe('the demo (npm start) on SIGTERM', () => {
  it('stops its three node processes and frees their ports (a test runner\'s timeout sends SIGTERM)', async () => {
    const demo = spawn(process.execPath, [DEMO, '--plain'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(demo, 'exit')
    let out = ''
    demo.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    let err = ''
    demo.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
    let nodes: number[] = []
    onTestFinished(() => {
      // only if the test failed before the demo stopped them
      for (const pid of [demo.pid!, ...nodes]) if (running(pid)) process.kill(pid, 'SIGKILL')
    })
    const up = await eventually(() => /grid up: (.*); running primes/.exec(out) ?? undefined, 45_000)
    const ports = [...up[1]!.matchAll(/127\.0\.0\.1:(\d+)/g)].map(m => Number(m[1]))
    expect(ports).toHaveLength(3)
    // the pipeline is running on the agents: the demo has printed a live frame
    await eventually(() => out.includes('gridd demo:') ? true : undefined, 20_000)
    nodes = childrenOf(demo.pid!)
    expect(nodes).toHaveLength(3)
    demo.kill('SIGTERM')
    const [code] = await exited as [number | null]
    expect(code, err).toBe(0)
    for (const pid of nodes) expect(running(pid), `node process ${pid}`).toBe(false)
    for (const port of ports) expect(await isPortFree(port), `port ${port}`).toBe(true)
  }, 90_000)

  it('a demo that dies (its reader gone: `npm start | head`, EPIPE) takes its node processes with it', async () => {
    const demo = spawn(process.execPath, [DEMO, '--plain'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(demo, 'exit')
    let out = ''
    const read = (chunk: string): void => { out += chunk }
    demo.stdout.setEncoding('utf8').on('data', read)
    let nodes: number[] = []
    onTestFinished(() => {
      for (const pid of [demo.pid!, ...nodes]) if (running(pid)) process.kill(pid, 'SIGKILL')
    })
    await eventually(() => out.includes('running primes') ? true : undefined, 45_000)
    nodes = childrenOf(demo.pid!)
    expect(nodes).toHaveLength(3)
    // as `head` does once it has its lines: the pipe's read end closes, the demo's next write fails
    demo.stdout.off('data', read)
    demo.stdout.destroy()
    const [code] = await exited as [number | null]
    expect(code).not.toBe(0)
    // before, the three nodes (and their workers) ran on, children of init, until killed by hand
    await eventually(() => nodes.every(pid => !processRunning(pid)) ? true : undefined, 15_000)
  }, 90_000)
})

describe('the demo\'s flags', () => {
  const demo = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [DEMO, ...args], { encoding: 'utf8', timeout: 30_000 })

  it('--help prints its usage and exits 0, starting no node', () => {
    const res = demo('--help')
    expect(res.status, String(res.stderr)).toBe(0)
    expect(res.stdout).toMatch(/^usage: npx node examples\/demo\/run\.ts/)
    expect(res.stdout).toMatch(/--dashboard PORT/)
    expect(res.stdout).not.toMatch(/starting a dev grid:/)
  })

  it('a misspelt flag is refused (exit 2, naming it) instead of a demo run without it', () => {
    const res = demo('--dashbord', '8080')
    expect(res.status).toBe(2)
    expect(res.stderr).toMatch(/^demo: .*--dashbord/)
    expect(res.stdout).not.toMatch(/starting a dev grid:/)
    const stray = demo('--certs', '/tmp')
    expect(stray.status).toBe(2)
    expect(stray.stderr).toMatch(/--certs: only with --peer/)
  })
})
