import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, issueIntoDir } from '../../../src/certs/files.ts'
import { startNode, runGrid, eventually } from './grid-process.ts'
import { GridNode } from '../../../src/node.ts'
import type { GridNodeInit } from '../../../src/config.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import type { GridProcess, LogLine } from './grid-process.ts'

/** Compressed timings (Serf's test idea): heartbeat 200 ms, suspect after 600 ms. */
export const FAST = ['--heartbeat-ms', '200', '--log-level', 'info']

export interface StatusMember {
  id: string
  state: string
  incarnation: number
  lastSeenMs: number
  role: string
  weight: number
  strategy: string
}

export interface StatusJson {
  self: StatusMember & { addresses: string[] }
  members: StatusMember[]
}

/** A throwaway CA with certificates n1..nN, and the processes and embedded members started from it; `close()` stops all and removes the dir. */
export class GridFixture {
  dir = ''
  readonly nodes: GridProcess[] = []
  readonly members: GridNode[] = []
  /** Anything else a test started with this grid's certificates, stopped first by `close()`. */
  private readonly closers: Array<() => Promise<void>> = []

  static async create (count: number): Promise<GridFixture> {
    const fixture = new GridFixture()
    fixture.dir = await mkdtemp(join(tmpdir(), 'gridd-it-'))
    await initCertsDir(fixture.dir)
    for (let i = 1; i <= count; i++) await issueIntoDir(fixture.dir, `n${i}`, { roles: ['member', 'agent'] })
    return fixture
  }

  /** Starts node `name` (same name = same key = same peer id); `nodeFlags` go to Node itself. */
  async start (name: string, args: string[] = [], nodeFlags: string[] = []): Promise<GridProcess> {
    const node = await startNode(['--certs', this.dir, '--name', name, ...FAST, ...args], undefined, undefined, nodeFlags)
    this.nodes.push(node)
    return node
  }

  /** Agent processes n1..n`count` with `args`, each joining n1. */
  async startAgents (count: number, args: string[]): Promise<GridProcess[]> {
    const agents = [await this.start('n1', args)]
    for (let i = 2; i <= count; i++) agents.push(await this.start(`n${i}`, [...args, '--peer', agents[0]!.address]))
    return agents
  }

  /**
   * An embedded member (a GridNode in this process, 200 ms heartbeats) with certificate `name`, joined
   * through `seed`, returned once it sees `agents` agents alive; `close()` stops it. Its data dir (the
   * task journal) is in this grid's dir, removed with it.
   */
  async member (name: string, seed: GridProcess, agents: number, init: Partial<GridNodeInit> = {}): Promise<GridNode> {
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(this.dir, name), peers: [seed.address], heartbeatMs: 200, dataDir: join(this.dir, 'data', name), ...init })
    this.members.push(node)
    await eventually(() => node.members().filter(m => m.role === 'agent' && m.state === 'alive').length === agents ? true : undefined)
    return node
  }

  /** `grid status --json` of `node`; `extra` adds flags (e.g. `--all`). */
  async status (node: GridProcess, extra: string[] = []): Promise<StatusJson> {
    const res = await runGrid(['status', '--peer', node.address, '--certs', this.dir, '--json', '--timeout', '5000', ...extra])
    if (res.code !== 0) throw new Error(`grid status failed (${res.code}): ${res.stderr}`)
    return JSON.parse(res.stdout) as StatusJson
  }

  /** Stops `stop` with the grid (before its members and nodes). */
  onClose (stop: () => Promise<void>): void {
    this.closers.push(stop)
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.closers.map(async stop => { await stop() }))
    await Promise.allSettled(this.members.map(async m => { await m.stop() }))
    await Promise.all(this.nodes.map(async n => {
      if (n.proc.signalCode === null && n.proc.exitCode === null) n.proc.kill('SIGCONT')
      await n.stop('SIGKILL')
    }))
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Matches a membership event line about `id`. */
export function memberEvent (type: string, id: string) {
  return (l: LogLine): boolean => l.msg === type && l.member === id
}

/** The state `observer` last logged for `id` (from its membership event lines). */
export function lastState (observer: GridProcess, id: string): string | undefined {
  const events = observer.lines.filter(l => typeof l.msg === 'string' && l.msg.startsWith('member:') && l.member === id)
  return events.at(-1)?.state as string | undefined
}
