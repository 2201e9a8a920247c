/**
 * Helpers for the membership benchmark: a registry of every `grid node`
 * process started (all killed on exit), log-line waits keyed on the nodes'
 * own `time` fields, and small statistics.
 */
import { createServer } from 'node:net'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { GridProcess, GRID_BIN } from '../integration/helpers/grid-process.ts'
import type { LogLine } from '../integration/helpers/grid-process.ts'
import { devCertsDir } from '../../src/certs/dev.ts'

export { GridProcess }
export type { LogLine }

export type Match = (line: LogLine) => boolean

/** The Node flags in bin/grid.js's shebang (`#!/usr/bin/env -S node --max-semi-space-size=1`), which `npx grid` runs with. */
export const SHEBANG_FLAGS = readFileSync(GRID_BIN, 'utf8').split('\n', 1)[0]!.split(/\s+/).filter(w => w.startsWith('--'))

/** `grid <args>` as `npx grid` runs it: bin/grid.js (the bundle) under its shebang's flags. */
export function gridCommand (entry: string, args: string[]): string[] {
  return [process.execPath, ...SHEBANG_FLAGS, entry, ...args]
}

/** `grid node <args>` as `npx grid node` runs it, as a GridProcess; ready once it logged "grid node listening". */
export async function startGridNode (args: string[], timeoutMs = 30_000): Promise<GridProcess> {
  const node = new GridProcess(args, {}, undefined, gridCommand(GRID_BIN, ['node', ...args]))
  try {
    await node.waitFor(l => l.msg === 'grid node listening', timeoutMs, 0)
    return node
  } catch (err) {
    await node.stop('SIGKILL')
    throw err
  }
}

export async function sleep (ms: number): Promise<void> {
  if (ms > 0) await new Promise(resolve => setTimeout(resolve, ms))
}

/** Progress on stderr (stdout carries only the result JSON). */
export function note (msg: string): void {
  process.stderr.write(`# ${new Date().toISOString().slice(11, 23)} ${msg}\n`)
}

/** Not exited (a SIGSTOPped process counts as running). */
export function isRunning (p: GridProcess): boolean {
  return p.proc.exitCode === null && p.proc.signalCode === null
}

export function timeOf (line: LogLine | undefined): number {
  return typeof line?.time === 'number' ? line.time : NaN
}

export function listeningTime (p: GridProcess): number {
  return timeOf(p.lines.find(l => l.msg === 'grid node listening'))
}

/** Every process the benchmark starts goes through here, so every one is killed at the end. */
export class Cluster {
  readonly started: GridProcess[] = []
  private readonly ports = new Set<number>()
  /** Each node's data dir (a temp dir of its own unless the caller gave one): the default, under the user's
   * state home and named by the node's peer id, was left there by every run. */
  private readonly dataDirs: string[] = []
  private readonly certsBefore: Set<string>

  constructor () {
    const dir = devCertsDir()
    this.certsBefore = new Set(existsSync(dir) ? readdirSync(dir) : [])
  }

  /** A port free on 127.0.0.1 right now and not handed out before in this run. */
  async freePort (): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await new Promise<number>((resolve, reject) => {
        const server = createServer()
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => {
          const address = server.address()
          server.close(() => { resolve(typeof address === 'object' && address != null ? address.port : 0) })
        })
      })
      if (port > 0 && !this.ports.has(port)) {
        this.ports.add(port)
        return port
      }
    }
    throw new Error('no free port on 127.0.0.1')
  }

  /** `grid node --dev` on 127.0.0.1:`port` with default timings; resolves once it logs "grid node listening". */
  async start (port: number, peers: string[], timeoutMs = 30_000, extra: string[] = []): Promise<GridProcess> {
    this.ports.add(port)
    const dataDir = extra.includes('--data-dir') ? [] : ['--data-dir', mkdtempSync(join(tmpdir(), 'gridd-bench-data-'))]
    this.dataDirs.push(...dataDir.slice(1))
    const args = ['--dev', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'info', ...dataDir, ...peers.flatMap(p => ['--peer', p]), ...extra]
    // started as `npx grid node` runs it: the bundle, with the shebang's flags
    const node = new GridProcess(args, {}, undefined, gridCommand(GRID_BIN, ['node', ...args]))
    this.started.push(node)
    try {
      await node.waitFor(l => l.msg === 'grid node listening', timeoutMs, 0)
    } catch (err) {
      throw new Error(`node on port ${port} did not start: ${(err as Error).message.slice(0, 1500)}`)
    }
    return node
  }

  /** SIGCONT then SIGKILL to everything still running; safe to call from an 'exit' handler. */
  killAllSync (): void {
    for (const p of this.started) {
      if (!isRunning(p)) continue
      try { p.proc.kill('SIGCONT') } catch {}
      try { p.proc.kill('SIGKILL') } catch {}
    }
  }

  async close (): Promise<void> {
    const running = this.started.filter(isRunning)
    this.killAllSync()
    await Promise.all(running.map(async p => { await Promise.race([once(p.proc, 'exit'), sleep(3000)]) }))
    this.removeCerts()
  }

  /** Removes the dev certificates `node-<port>` this run created (the ones there before are kept) and the nodes' temp data dirs. */
  removeCerts (): void {
    for (const dir of this.dataDirs.splice(0)) {
      try { rmSync(dir, { recursive: true, force: true }) } catch {}
    }
    const dir = devCertsDir()
    for (const port of this.ports) {
      for (const ext of ['crt', 'key']) {
        const file = `node-${port}.${ext}`
        if (!this.certsBefore.has(file)) {
          try { rmSync(join(dir, file), { force: true }) } catch {}
        }
      }
    }
  }
}

/** A membership event line: one of `types`, about `id`, logged at or after `since` (epoch ms), optionally in `state`. */
export function memberEvent (types: string[], id: string, since = 0, state?: string): Match {
  return l => types.includes(l.msg) && l.member === id && timeOf(l) >= since && (state == null || l.state === state)
}

/**
 * The first matching line of the node's whole log (matchers filter by time), or null on
 * timeout or exit: an event may be logged before the benchmark starts waiting for it.
 */
export async function firstLine (node: GridProcess, match: Match, timeoutMs: number): Promise<LogLine | null> {
  try {
    return await node.waitFor(match, timeoutMs, 0)
  } catch {
    return null
  }
}

export interface AllLogged {
  /** Until the last observer logged it (ms after t0); null when one never did. */
  ms: number | null
  /** Until the first observer logged it. */
  firstMs: number | null
  missing: number
  perNode: Array<number | null>
}

/** Waits (in parallel, each bounded) until every observer logged a matching line; times from their own log clocks. */
export async function allLogged (observers: GridProcess[], match: Match, t0: number, timeoutMs: number): Promise<AllLogged> {
  const lines = await Promise.all(observers.map(async o => await firstLine(o, match, timeoutMs)))
  const perNode = lines.map(l => l == null ? null : timeOf(l) - t0)
  const seen = perNode.filter((x): x is number => x != null)
  const missing = perNode.length - seen.length
  return {
    ms: missing > 0 || seen.length === 0 ? null : Math.max(...seen),
    firstMs: seen.length === 0 ? null : Math.min(...seen),
    missing,
    perNode
  }
}

/** The state `observer` last logged for `id`. */
export function lastState (observer: GridProcess, id: string): string | undefined {
  for (let i = observer.lines.length - 1; i >= 0; i--) {
    const l = observer.lines[i]!
    if (l.member === id && typeof l.msg === 'string' && l.msg.startsWith('member:')) return l.state as string
  }
  return undefined
}

/** Polls the logs until every node last logged every other node alive; ms taken, or null after `timeoutMs`. */
export async function converge (nodes: GridProcess[], timeoutMs: number): Promise<number | null> {
  const start = Date.now()
  while (Date.now() - start < timeoutMs) {
    if (nodes.every(n => nodes.every(m => m === n || lastState(n, m.peerId) === 'alive'))) return Date.now() - start
    await sleep(200)
  }
  return null
}

/** The middle value (the upper one of an even count). */
export function median (xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
}

export function round (x: number, digits = 2): number {
  return Math.round(x * 10 ** digits) / 10 ** digits
}

/** Nearest-rank percentile. */
export function percentile (xs: number[], p: number): number | null {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export interface Summary {
  samples: Array<number | null>
  timeouts: number
  p50: number | null
  p99: number | null
  max: number | null
}

/** Summary of samples where null is a timeout (it makes max null: "never"). */
export function summarize (samples: Array<number | null>): Summary {
  const xs = samples.filter((x): x is number => x != null)
  const timeouts = samples.length - xs.length
  return {
    samples,
    timeouts,
    p50: percentile(xs, 50),
    p99: timeouts > 0 ? null : percentile(xs, 99),
    max: timeouts > 0 || xs.length === 0 ? null : Math.max(...xs)
  }
}

export interface ProcMemory { vmRssMb: number, rssAnonMb: number, rssFileMb: number }

/** VmRSS (and its anonymous / file-backed parts) of a process in MB, one decimal, from /proc. */
export async function procMemory (pid: number | undefined): Promise<ProcMemory | null> {
  if (pid == null) return null
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const mb = (field: string): number => Math.round(Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1]) / 102.4) / 10
    const mem = { vmRssMb: mb('VmRSS'), rssAnonMb: mb('RssAnon'), rssFileMb: mb('RssFile') }
    return Number.isFinite(mem.vmRssMb) ? mem : null
  } catch {
    return null
  }
}

/** Plain left-aligned text table. */
export function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(head), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n'
}
