/**
 * deploy/compose.yaml cannot run here (a docker client, no engine), so its
 * services' command lines run as real processes on 127.0.0.1, in compose's
 * order and with its conditions (a completed `certs`, healthchecks run as
 * written): the same commands, proven to work together.
 */
import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalCompose } from './helpers/compose-local.ts'
import { withoutGridVariables } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

const REPO = fileURLToPath(new URL('../../', import.meta.url))

/** A service's process: its output, its exit. */
class ServiceProcess {
  readonly proc: ChildProcess
  out = ''
  readonly exited: Promise<number | null>

  constructor (argv: string[], env: Record<string, string>) {
    this.proc = spawn(argv[0]!, argv.slice(1), { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.exited = once(this.proc, 'exit').then(([code]) => code as number | null)
    for (const stream of [this.proc.stdout!, this.proc.stderr!]) stream.setEncoding('utf8').on('data', (chunk: string) => { this.out += chunk })
  }

  get running (): boolean {
    return this.proc.exitCode == null && this.proc.signalCode == null
  }

  async stop (): Promise<void> {
    if (!this.running) return
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000)
    this.proc.kill('SIGTERM')
    await this.exited
    clearTimeout(timer)
  }
}

/** Runs `argv` to its end: its exit code. */
async function runOnce (argv: string[], env: Record<string, string>): Promise<number | null> {
  return await new ServiceProcess(argv, env).exited
}

describe('deploy/compose.yaml: its command lines as processes on 127.0.0.1', () => {
  it('certs, a seed, two agents joining with the token, and the demo running its pipeline on them to the end', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gridd-compose-'))
    const local = new LocalCompose(join(REPO, 'deploy/compose.yaml'), join(REPO, 'deploy/Dockerfile'), root)
    const services = local.compose.services
    const running = new Map<string, ServiceProcess>()
    /** The image's ENV (XDG_STATE_HOME: its own volume; GRID_HOST: here 127.0.0.1), nothing of this process's GRID_*. */
    const envOf = (service: string): Record<string, string> => {
      const state = join(root, 'state', service)
      mkdirSync(state, { recursive: true })
      return { ...withoutGridVariables(), XDG_STATE_HOME: state, GRID_HOST: '127.0.0.1' }
    }
    const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8')
    expect(dockerfile).toMatch(/^ENV XDG_STATE_HOME=\/var\/lib\/gridd GRID_HOST=0\.0\.0\.0$/m)

    async function healthy (service: string): Promise<void> {
      const check = (await local.healthCommand(service))!
      // compose's defaults: 30 s between checks, 3 retries
      const { retries = 3, interval = '30s' } = services[service]!.healthcheck!
      const intervalMs = Number(/^(\d+)s$/.exec(interval)?.[1] ?? NaN) * 1000
      expect(intervalMs, `${service}: healthcheck interval ${interval}`).toBeGreaterThan(0)
      for (let attempt = 0; attempt < retries; attempt++) {
        if (!running.get(service)!.running) throw new Error(`${service} exited: ${running.get(service)!.out}`)
        if (await runOnce(check, envOf(service)) === 0) return
        await new Promise(resolve => setTimeout(resolve, intervalMs))
      }
      throw new Error(`${service} not healthy: ${running.get(service)!.out}`)
    }

    try {
      for (const service of local.startOrder()) {
        for (const [dep, { condition }] of Object.entries(services[service]!.depends_on ?? {})) {
          if (condition === 'service_completed_successfully') expect(await running.get(dep)!.exited, running.get(dep)!.out).toBe(0)
          else if (condition === 'service_healthy') await healthy(dep)
          else throw new Error(`${service}: condition ${condition} is not run here`)
        }
        running.set(service, new ServiceProcess(await local.commandLine(service), envOf(service)))
      }
      const demo = running.get('demo')!
      expect(await demo.exited, demo.out).toBe(0)

      // the demo saw both agents and ran the pipeline's workers on them
      const frames = demo.out.split('\n---\n').filter(f => f.includes('gridd demo:'))
      expect(frames.length).toBeGreaterThanOrEqual(5)
      expect(frames.some(f => (f.match(/ agent +alive +\d+% +count-primes [1-9]/g) ?? []).length === 2), demo.out).toBe(true)
      const summary = JSON.parse(demo.out.slice(demo.out.indexOf('summary: ') + 9)) as { in: number, out: number, failed: number }
      expect(summary.in).toBeGreaterThan(100)
      expect(summary).toMatchObject({ out: summary.in, failed: 0 })

      // the agents joined with the one token (2 uses, both spent), each certificate kept on its own volume
      const tokens = JSON.parse(readFileSync(join(local.volume('certs'), 'ca', 'tokens.json'), 'utf8')) as { tokens: Array<{ used: number, uses: number }> }
      expect(tokens.tokens.map(t => [t.used, t.uses])).toEqual([[2, 2]])
      for (const agent of ['agent1', 'agent2']) expect(readFileSync(join(local.volume(agent), 'node', 'certs', 'node.crt'), 'utf8')).toMatch(/BEGIN CERTIFICATE/)
    } finally {
      await cleanup(
        ...[...running.values()].reverse().map(p => async () => { await p.stop() }),
        () => { rmSync(root, { recursive: true, force: true }) }
      )
    }
  }, 300_000)
})
