import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
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

  kill (): void {
    if (this.proc.exitCode == null && this.proc.signalCode == null) this.proc.kill('SIGKILL')
  }
}

/**
 * `grid task wait` across a graceful restart of the task's durable owner (a rolling upgrade, a systemd
 * restart): the owner answers the wait ERR_NODE_STOPPED, and its journal resumes the task when it starts
 * again on the same data dir and port. The CLI exited 1 ("not final") at the stop; it now waits for the
 * owner and prints the task's result, asked of the owner itself and through another member; Ctrl-C still ends it.
 * `grid task run` Ctrl-C'd meanwhile cannot cancel its task (the owner is down): it says that the owner runs the
 * task when it is back and how to cancel it then (it said "could not cancel" alone).
 */
describe('grid task wait across its owner\'s restart (real nodes)', () => {
  let grid: GridFixture
  let agent: GridProcess
  let port: number
  const clis: RunningCli[] = []

  // not an agent: its task runs on n1's workers, which stay up across the owner's restart; at debug it logs each wait it holds
  const startOwner = async (): Promise<GridProcess> =>
    await grid.start('n2', ['--peer', agent.address, '--port', String(port), '--data-dir', join(grid.dir, 'owner-data'), '--task', `gated=${GATED}`, '--log-level', 'debug'])
  /** The tasks whose waits `owner` holds since `since` (a stop answers those, where one still in transit may be dropped), a wait a line. */
  const waitsHeld = (owner: GridProcess, since: number): string[] =>
    owner.lines.slice(since).filter(line => line.msg === 'tasks wait: waiting for the task to be final').map(line => String(line.task))
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

    const since = owner.mark()
    const direct = new RunningCli(['task', 'wait', id, '--peer', owner.address, '--certs', grid.dir])
    const relayed = new RunningCli(['task', 'wait', id, '--peer', agent.address, '--certs', grid.dir])
    // Ctrl-C'd while the owner is away
    const interrupted = new RunningCli(['task', 'wait', id, '--peer', owner.address, '--certs', grid.dir])
    // a task of its own (its gate never opened), Ctrl-C'd while the owner is away: the cancel reaches nobody
    const run = new RunningCli(['task', 'run', 'gated', '--input', JSON.stringify({ gate: join(grid.dir, 'never') }), '--peer', owner.address, '--certs', grid.dir])
    clis.push(direct, relayed, interrupted, run)
    // every wait held by the owner (a fixed pause left one in transit on a loaded machine: dropped by the stop, its CLI exited 1)
    const runId = await eventually(() => {
      const held = waitsHeld(owner, since)
      return held.filter(task => task === id).length >= 3 ? held.find(task => task !== id) : undefined
    }, 30_000)

    expect(await owner.stop('SIGTERM')).toBe(0)
    for (const cli of [interrupted, run]) {
      await eventually(() => cli.stderr.includes('waiting for it to return') || cli.proc.exitCode != null ? true : undefined)
      expect(cli.stderr).toContain('owner node stopped; waiting for it to return')
      cli.proc.kill('SIGINT')
    }
    expect(await interrupted.code(5000)).toBeNull()
    expect(interrupted.proc.signalCode).toBe('SIGINT')
    // it said "could not cancel" and nothing more, while the restarted owner runs the task
    expect(await run.code(10_000), run.stderr).toBe(130)
    expect(run.stderr).toContain(`could not cancel task ${runId}: its owner node stopped and has not answered since`)
    expect(run.stderr).toContain(`the owner runs the task when it starts again: \`grid task cancel ${runId}\` cancels it then`)
    await waitPortFree(port)
    owner = await startOwner()
    await runningOn(owner, id)
    await writeFile(gate, '')

    for (const [name, cli] of [['asked of the owner', direct], ['through a member', relayed]] as const) {
      expect(await cli.code(40_000), `${name}: ${cli.stderr}`).toBe(0)
      expect(cli.stderr, name).toContain('owner node stopped; waiting for it to return')
      expect(JSON.parse(cli.stdout), name).toEqual({ opened: gate })
    }
    // as the run's message said
    const cancelled = await runGrid(['task', 'cancel', runId, '--peer', owner.address, '--certs', grid.dir])
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: runId, status: 'cancelled' })
  }, 90_000)
})
