import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridProcess, GRID_BIN, runGrid } from '../integration/helpers/grid-process.ts'
import { gridCommand } from '../bench/lib.ts'
import { freePort } from '../integration/helpers/ports.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import type { TlsMaterial } from '../../src/transport/mtls/material.ts'

const ECHO_ADDON = fileURLToPath(new URL('./echo-addon.mjs', import.meta.url))

/** One `grid node` process of the fuzzed grid. */
export interface FuzzNode {
  name: string
  proc: GridProcess
  agent: boolean
  addon: boolean
  metricsUrl: string
}

export interface GridOptions {
  /** Nodes (at least 1): the last one is the agent; the first serves the echo add-on. Default 3. */
  nodes?: number
  heartbeatMs?: number
}

/**
 * A real grid for the fuzzer: certificates made by `grid certs init` and
 * `grid certs issue` (the CLI, as a user makes them), then `grid node`
 * processes on 127.0.0.1 joining the first one, each with the metrics add-on
 * (to read its rejected-message counters), the last one an agent.
 */
export class FuzzGrid {
  readonly dir: string
  readonly nodes: FuzzNode[] = []

  private constructor (dir: string) {
    this.dir = dir
  }

  static async start (options: GridOptions = {}): Promise<FuzzGrid> {
    const count = options.nodes ?? 3
    const grid = new FuzzGrid(await mkdtemp(join(tmpdir(), 'gridd-fuzz-')))
    try {
      await grid.cli(['certs', 'init', '--dir', grid.dir])
      for (let i = 1; i <= count; i++) await grid.cli(['certs', 'issue', `n${i}`, '--dir', grid.dir, '--role', 'member,agent'])
      // the raw gossipsub sender and the pipeline owner are members too, with their own identities
      await grid.cli(['certs', 'issue', 'fuzz-raw', '--dir', grid.dir])
      await grid.cli(['certs', 'issue', 'owner', '--dir', grid.dir])
      for (let i = 1; i <= count; i++) {
        const agent = i === count
        const addon = i === 1
        const metrics = await freePort()
        const args = ['--host', '127.0.0.1', '--port', '0', '--certs', grid.dir, '--name', `n${i}`, '--heartbeat-ms', String(options.heartbeatMs ?? 500),
          '--log-level', 'info', '--metrics', String(metrics), '--data-dir', join(grid.dir, `data-n${i}`)]
        if (i > 1) args.push('--peer', grid.nodes[0]!.proc.address)
        if (agent) args.push('--agent', '--workers', '4', '--cpu', '4', '--memory', '2048')
        if (addon) args.push('--addon', ECHO_ADDON)
        // started as `npx grid node` runs it (the bundle, under its shebang's flags), so RSS figures are a real node's
        const proc = new GridProcess(args, {}, undefined, gridCommand(GRID_BIN, ['node', ...args]))
        grid.nodes.push({ name: `n${i}`, proc, agent, addon, metricsUrl: `http://127.0.0.1:${metrics}/metrics` })
        await proc.ready()
      }
    } catch (err) {
      await grid.stop()
      throw err
    }
    return grid
  }

  async tls (name: string): Promise<TlsMaterial> {
    return await loadCerts(this.dir, name)
  }

  get agent (): FuzzNode {
    return this.nodes.at(-1)!
  }

  private async cli (args: string[]): Promise<void> {
    const res = await runGrid(args)
    if (res.code !== 0) throw new Error(`grid ${args.join(' ')} failed (${res.code}): ${res.stderr}`)
  }

  /** SIGKILLs every node (their state is not needed after the checks) and removes the certificates. */
  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async n => { await n.proc.stop('SIGKILL') }))
    await rm(this.dir, { recursive: true, force: true })
  }
}

export const silentLog = pino({ level: 'silent' })
