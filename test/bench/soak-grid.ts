/**
 * The soak bench's grid: a throwaway CA, `grid node` processes (agents with the
 * metrics, health and probe add-ons, one with the HTTP API), each with its own
 * certificate name, port and data dir so a restart can keep or change them.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { GRID_BIN, GridProcess } from '../integration/helpers/grid-process.ts'
import { Cluster, SHEBANG_FLAGS, isRunning } from './lib.ts'

export const PROBE = fileURLToPath(new URL('./soak-probe.ts', import.meta.url))
export const API_TASK = fileURLToPath(new URL('../fixtures/tasks/noop.mjs', import.meta.url))

/** Who a node is across restarts: same key and data dir, same port (a fresh identity changes all three). */
export interface Identity { label: string, certName: string, dataDir: string, port: number }

export interface SoakNode {
  identity: Identity
  proc: GridProcess
  probeUrl: string
  metricsUrl: string
  healthUrl: string
  apiUrl?: string
}

/** The url field of the line the node logged as `msg` (each add-on logs where it listens). */
function urlOf (p: GridProcess, msg: string): string {
  const line = p.lines.find(l => l.msg === msg)
  if (typeof line?.url !== 'string') throw new Error(`node ${p.args.join(' ')} never logged "${msg}"`)
  return line.url
}

export class SoakGrid {
  readonly cluster = new Cluster()
  readonly certs: string
  readonly jwtSecretFile: string
  private fresh = 0
  readonly dir: string

  constructor (dir: string) {
    this.dir = dir
    this.certs = join(dir, 'certs')
    this.jwtSecretFile = join(dir, 'jwt-secret')
  }

  async init (): Promise<void> {
    await initCertsDir(this.certs)
    await writeFile(this.jwtSecretFile, 'soak-bench-secret-of-at-least-32-bytes!!', { mode: 0o600 })
  }

  /** A new certificate (roles member and agent), data dir and port. */
  async identity (label: string): Promise<Identity> {
    const certName = `${label}-${this.fresh++}`
    await issueIntoDir(this.certs, certName, { roles: ['member', 'agent'] })
    const dataDir = join(this.dir, 'data', certName)
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    return { label, certName, dataDir, port: await this.cluster.freePort() }
  }

  /**
   * `grid node` as `npx grid node` runs it, plus `--heapsnapshot-signal=SIGUSR2` (snapshots land in the
   * data dir, its working directory); `api` adds the HTTP API with a registered task `soak`.
   */
  async start (identity: Identity, peers: string[], api = false): Promise<SoakNode> {
    const args = [
      '--host', '127.0.0.1', '--port', String(identity.port), '--certs', this.certs, '--name', identity.certName,
      '--data-dir', identity.dataDir, '--agent', '--workers', '2', '--prestart-workers', '1', '--log-level', 'info',
      '--metrics', String(await this.cluster.freePort()), '--health', String(await this.cluster.freePort()),
      '--addon', PROBE, ...peers.flatMap(p => ['--peer', p]),
      ...(api ? ['--api', String(await this.cluster.freePort()), '--api-jwt-secret-file', this.jwtSecretFile, '--task', `soak=${API_TASK}`] : [])
    ]
    const proc = new GridProcess(args, {}, identity.dataDir, [process.execPath, ...SHEBANG_FLAGS, '--heapsnapshot-signal=SIGUSR2', GRID_BIN, 'node', ...args])
    this.cluster.started.push(proc)
    try {
      // the add-ons start after "grid node listening", the probe last
      await proc.waitFor(l => l.msg === 'soak probe listening', 60_000, 0)
      return {
        identity,
        proc,
        probeUrl: urlOf(proc, 'soak probe listening'),
        metricsUrl: urlOf(proc, 'metrics listening'),
        healthUrl: urlOf(proc, 'health endpoints listening (/healthz, /readyz)'),
        apiUrl: api ? urlOf(proc, 'HTTP API listening') : undefined
      }
    } catch (err) {
      await proc.stop('SIGKILL')
      throw new Error(`${identity.certName} did not start: ${(err as Error).message.slice(0, 1500)}`)
    }
  }

  /** The log lines kept so far are dropped (the bench's own heap is measured too); errors are counted first. */
  static drainLog (node: SoakNode, errors: Map<string, number>): void {
    for (const line of node.proc.lines.splice(0)) {
      if (typeof line.level === 'number' && line.level >= 50) errors.set(line.msg, (errors.get(line.msg) ?? 0) + 1)
    }
  }

  static running (node: SoakNode): boolean {
    return isRunning(node.proc)
  }

  async close (): Promise<void> {
    await this.cluster.close()
  }
}
