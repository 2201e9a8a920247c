import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { GRID_BIN, eventually, runGrid } from './helpers/grid-process.ts'
import { freePort, waitPortFree } from './helpers/ports.ts'

const GATED = fileURLToPath(new URL('../fixtures/tasks/gated.mjs', import.meta.url))
const AGENT = ['--agent', '--workers', '2', '--cpu', '2', '--memory', '2048']

/** A `grid …` running in the background, its output gathered. */
class RunningCli {
  readonly proc: ChildProcess
  stdout = ''
  stderr = ''

  constructor (args: string[]) {
    this.proc = spawn(process.execPath, [GRID_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => { this.stdout += chunk })
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk })
  }

  /** Its exit code; fails, naming what it printed, if it still runs after `timeoutMs`. */
  async code (timeoutMs: number): Promise<number | null> {
    await eventually(() => this.proc.exitCode ?? this.proc.signalCode ?? undefined, timeoutMs, 100)
      .catch(() => { throw new Error(`still running after ${timeoutMs} ms; stderr: ${this.stderr}`) })
    return this.proc.exitCode
  }

  /** Resolves once it holds a TCP connection to 127.0.0.1:`port` (its request is on its way). */
  async connectedTo (port: number): Promise<void> {
    await eventually(async () => {
      const { stdout } = await promisify(execFile)('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${port}`])
      return stdout.includes(`pid=${this.proc.pid},`) ? true : undefined
    }, 20_000, 100)
  }

  kill (): void {
    if (this.proc.exitCode == null && this.proc.signalCode == null) this.proc.kill('SIGKILL')
  }
}

/**
 * `grid task wait` across a graceful restart of the task's durable owner (a rolling upgrade, a systemd
 * restart): the owner answers the wait ERR_NODE_STOPPED, and its journal resumes the task when it starts
 * again on the same data dir and port. The CLI exited 1 ("not final") at the stop; it now waits for the
 * owner and prints the task's result, asked of the owner itself and through another member; Ctrl-C still ends it.
 */
describe('grid task wait across its owner\'s restart (real nodes)', () => {
  let grid: GridFixture
  let agent: GridProcess
  let port: number
  const clis: RunningCli[] = []

  // not an agent: its task runs on n1's workers, which stay up across the owner's restart
  const startOwner = async (): Promise<GridProcess> =>
    await grid.start('n2', ['--peer', agent.address, '--port', String(port), '--data-dir', join(grid.dir, 'owner-data'), '--task', `gated=${GATED}`])
  const runningOn = async (owner: GridProcess, id: string): Promise<true> => await eventually(async () => {
    const got = await runGrid(['task', 'get', id, '--peer', owner.address, '--certs', grid.dir])
    return got.code === 0 && (JSON.parse(got.stdout) as { status: string }).status === 'running' ? true : undefined
  }, 30_000)

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    agent = await grid.start('n1', AGENT)
    port = await freePort()
  }, 60_000)
  afterAll(async () => {
    for (const cli of clis) cli.kill()
    await grid?.close()
  })

  it('keeps waiting while the owner restarts and prints the task\'s result once it is back (exit 0)', async () => {
    let owner = await startOwner()
    // the task runs until the test opens its gate: it cannot end before the owner's stop
    const gate = join(grid.dir, 'gate')
    const submitted = await runGrid(['task', 'submit', 'gated', '--input', JSON.stringify({ gate }), '--peer', owner.address, '--certs', grid.dir])
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = submitted.stdout.trim()
    await runningOn(owner, id)

    const direct = new RunningCli(['task', 'wait', id, '--peer', owner.address, '--certs', grid.dir])
    const relayed = new RunningCli(['task', 'wait', id, '--peer', agent.address, '--certs', grid.dir])
    // Ctrl-C'd while the owner is away
    const interrupted = new RunningCli(['task', 'wait', id, '--peer', owner.address, '--certs', grid.dir])
    clis.push(direct, relayed, interrupted)
    await direct.connectedTo(owner.port)
    await relayed.connectedTo(agent.port)
    await interrupted.connectedTo(owner.port)
    // the waits reach the owner a moment after the connections open
    await new Promise(resolve => setTimeout(resolve, 1000))

    expect(await owner.stop('SIGTERM')).toBe(0)
    await eventually(() => interrupted.stderr.includes('waiting for it to return') || interrupted.proc.exitCode != null ? true : undefined)
    expect(interrupted.stderr).toContain('owner node stopped; waiting for it to return')
    interrupted.proc.kill('SIGINT')
    expect(await interrupted.code(5000)).toBeNull()
    expect(interrupted.proc.signalCode).toBe('SIGINT')
    await waitPortFree(port)
    owner = await startOwner()
    await runningOn(owner, id)
    await writeFile(gate, '')

    for (const [name, cli] of [['asked of the owner', direct], ['through a member', relayed]] as const) {
      expect(await cli.code(40_000), `${name}: ${cli.stderr}`).toBe(0)
      expect(cli.stderr, name).toContain('owner node stopped; waiting for it to return')
      expect(JSON.parse(cli.stdout), name).toEqual({ opened: gate })
    }
  }, 60_000)
})
