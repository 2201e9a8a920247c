import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, issueIntoDir } from '../../../src/certs/files.ts'
import { startNode, runGrid } from './grid-process.ts'
import type { GridProcess, LogLine } from './grid-process.ts'

/** Compressed timings (Serf's test idea): heartbeat 200 ms, suspect after 600 ms. */
export const FAST = ['--heartbeat-ms', '200', '--log-level', 'info']

export interface StatusMember {
  id: string
  state: string
  incarnation: number
  lastSeenMs: number
}

export interface StatusJson {
  self: StatusMember & { addresses: string[] }
  members: StatusMember[]
}

/** A throwaway CA with certificates n1..nN, and the processes started from it; `close()` stops all and removes the dir. */
export class GridFixture {
  dir = ''
  readonly nodes: GridProcess[] = []

  static async create (count: number): Promise<GridFixture> {
    const fixture = new GridFixture()
    fixture.dir = await mkdtemp(join(tmpdir(), 'gridd-it-'))
    await initCertsDir(fixture.dir)
    for (let i = 1; i <= count; i++) await issueIntoDir(fixture.dir, `n${i}`)
    return fixture
  }

  /** Starts node `name` (same name = same key = same peer id). */
  async start (name: string, args: string[] = []): Promise<GridProcess> {
    const node = await startNode(['--certs', this.dir, '--name', name, ...FAST, ...args])
    this.nodes.push(node)
    return node
  }

  /** `grid status --json` of `node`; `extra` adds flags (e.g. `--all`). */
  async status (node: GridProcess, extra: string[] = []): Promise<StatusJson> {
    const res = await runGrid(['status', '--peer', node.address, '--certs', this.dir, '--json', '--timeout', '5000', ...extra])
    if (res.code !== 0) throw new Error(`grid status failed (${res.code}): ${res.stderr}`)
    return JSON.parse(res.stdout) as StatusJson
  }

  async close (): Promise<void> {
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
