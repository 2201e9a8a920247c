import { deathSignal } from './death-signal.ts'
import { fork } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { LocalWorker } from './local-worker.ts'
import type { WorkerInfo } from './local-worker.ts'
import type { AgentConfig } from './config.ts'
import type { Logger } from '../logger.ts'
import { AgentFullError, MemoryLimitError, SpawnRefusedError } from '../errors.ts'
import { lacks } from '../placement/index.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { WorkerRecords } from './worker-records.ts'
import { logWorkerOutput } from './worker-output.ts'
import { HostPool } from './host-pool.ts'
import type { PooledHost } from './host-pool.ts'

// The host is the worker child's program (src/cli/worker-host.ts). From the sources it is that .ts;
// built by tsc it is dist/src/cli/worker-host.js; in the bundle (dist/bundle/) it sits beside every chunk.
const WORKER_HOST = locateWorkerHost()
const WATCHDOG_MS = 250
/** What a pre-started host's command line says instead of a stage name (it has none yet). */
const PRESTARTED_LABEL = '(pre-started)'

export interface SpawnRequest {
  stage: string
  /** Absolute path of the stage module on this machine. */
  modulePath: string
  resources: { cpu: number, memoryMb: number }
  env?: Record<string, string>
  /** Items the worker processes at once (the rest of its credit window waits in order). Default 1. */
  concurrency?: number
  /** `modulePath` is a requester's bundle: its bare imports resolve only from the node_modules of these directories. */
  shippedFrom?: string[]
}

export interface AgentUsage {
  cpu: number
  memoryMb: number
  workers: number
}

/**
 * The agent's worker processes: forks the worker host per spawn, accounts
 * CPU slots, memory and worker slots, enforces memory limits, and frees the
 * capacity when a worker exits, whatever the cause. A worker's crash never
 * takes the agent down.
 */
export class Spawner {
  private readonly config: AgentConfig
  private readonly log: Logger
  private readonly onChange: () => void
  private readonly workers = new Map<string, LocalWorker>()
  private watchdog?: NodeJS.Timeout
  private readonly records?: WorkerRecords
  /** How workers die with this agent (setpriv's PDEATHSIG, else their own watchdog thread). */
  private readonly death = deathSignal()
  /** Workers run as this uid/gid (`--worker-user`); default: the agent's own. */
  private workerIds?: { uid: number, gid: number }
  /** Worker hosts forked ahead of need (`prestartWorkers`). */
  private readonly pool: HostPool
  /**
   * The agent's stop has begun (beginStop, stop or destroy): a spawn still on its way (its module was being
   * stored) starts nothing, and a stop request that ends a worker in setup is part of that stop.
   */
  private stopping = false

  /** `records`: where each worker is noted while it runs, for the next agent to reap after a crash. */
  constructor (config: AgentConfig, log: Logger, onChange: () => void, records?: WorkerRecords) {
    this.config = config
    this.log = log.child({ component: 'spawner' })
    this.onChange = onChange
    this.records = records
    this.pool = new HostPool(config.prestartWorkers, memoryMb => this.forkHost(memoryMb, PRESTARTED_LABEL), err => {
      this.log.warn({ err }, 'pre-starting a worker host failed; the next spawn forks its own and the pool tries again after it')
    })
  }

  /** From now on, workers run as `ids.uid`/`ids.gid` (the agent must be root). */
  runWorkersAs (ids: { uid: number, gid: number }): void {
    this.workerIds = { uid: ids.uid, gid: ids.gid }
    this.pool.renew()
  }

  /** Pre-started worker hosts idle now. */
  get prestarted (): number {
    return this.pool.ready
  }

  start (): void {
    this.pool.start()
    this.watchdog ??= setInterval(() => { void this.checkMemory() }, WATCHDOG_MS)
    this.watchdog.unref()
  }

  usage (): AgentUsage {
    let cpu = 0
    let memoryMb = 0
    for (const w of this.workers.values()) {
      cpu += w.info.resources.cpu
      memoryMb += w.info.resources.memoryMb
    }
    return { cpu, memoryMb, workers: this.workers.size }
  }

  list (): WorkerInfo[] {
    return [...this.workers.values()].map(w => w.info)
  }

  get (id: string): LocalWorker | undefined {
    return this.workers.get(id)
  }

  /** Forks a worker if it still fits; refuses (AgentFullError) if two requesters raced for the last slot. */
  spawn (request: SpawnRequest): LocalWorker {
    // a worker forked now would be killed by the agent's stop within seconds, or outlive it once it killed
    // the others: the requester places it on another agent
    if (this.stopping) throw new SpawnRefusedError('the agent is stopping')
    const lacking = lacks(request.resources, { capacity: this.config, maxWorkers: this.config.workers, used: this.usage() })
    if (lacking.length > 0) throw new AgentFullError(lacking)
    const memoryMb = request.resources.memoryMb > 0 ? Math.max(16, Math.floor(request.resources.memoryMb)) : 0
    const host = this.pool.take(memoryMb) ?? this.forkHost(memoryMb, request.stage)
    host.stage = request.stage
    const { id, child, pid } = host
    const worker = new LocalWorker(child, { id, stage: request.stage, pid, resources: request.resources }, {
      workerId: id,
      stage: request.stage,
      modulePath: request.modulePath,
      env: request.env ?? {},
      concurrency: request.concurrency ?? 1,
      shippedFrom: request.shippedFrom,
      watchdog: this.death.watchdog
    }, () => this.stopping)
    this.workers.set(id, worker)
    this.log.info({ worker: id, stage: request.stage, pid, prestarted: child.spawnargs.includes(PRESTARTED_LABEL) }, 'worker started')
    void worker.exited.then(exit => {
      this.workers.delete(id)
      // a crash (an uncaught exception after its item returned, exit(3), a signal it was not sent by its
      // agent) is a warning an operator at --log-level warn sees; an exit its agent asked for is not
      const crashed = exit.stopped !== true && (exit.error != null || exit.signal != null || (exit.code ?? 0) !== 0)
      this.log[crashed ? 'warn' : 'info']({ worker: id, stage: request.stage, ...exit }, 'worker exited')
      this.onChange()
    })
    this.onChange()
    return worker
  }

  async kill (id: string, options: { graceful?: boolean, timeoutMs?: number } = {}): Promise<boolean> {
    const worker = this.workers.get(id)
    if (worker == null) return false
    await worker.kill(options)
    return true
  }

  /**
   * The agent is about to stop (its node's stop began; this agent stops after its other parts): it takes no
   * new worker, and one that dies of a stop request meanwhile, still in setup, dies of the same stop (a signal
   * to the whole process group, Ctrl-C or a service manager's), so its exit says stopped, not a failed setup.
   */
  beginStop (): void {
    this.stopping = true
  }

  async stop (): Promise<void> {
    this.stopping = true
    clearInterval(this.watchdog)
    this.pool.stop()
    await Promise.all([...this.workers.values()].map(async w => await w.kill({ graceful: true, timeoutMs: 2000 })))
  }

  /** Immediate: every worker gets SIGKILL at once. */
  async destroy (): Promise<void> {
    this.stopping = true
    clearInterval(this.watchdog)
    this.pool.stop()
    await Promise.all([...this.workers.values()].map(async w => await w.kill()))
  }

  /**
   * Forks a worker host, idle until its start message: with the death signal, the allowlisted
   * environment and the worker user as every worker; recorded while it runs, for the next agent
   * to reap after a crash. `label` (the stage, or that it is pre-started) is for `ps` only.
   */
  private forkHost (memoryMb: number, label: string): PooledHost {
    const id = `w-${randomBytes(6).toString('hex')}`
    const execArgv = memoryMb > 0 ? [`--max-old-space-size=${memoryMb}`] : []
    // argv holds labels only (for `ps` and the reaper of leftover workers): what to run, and the spawn's
    // env, go over IPC; the environment is the allowlisted part of the agent's, never a GRID_* variable
    const child = fork(WORKER_HOST, [id, label], {
      // through setpriv where there is one: the kernel kills the worker when this agent dies
      ...(this.death.execPath == null ? {} : { execPath: this.death.execPath }),
      execArgv: [...this.death.prefix, ...execArgv],
      env: this.config.workerEnv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      ...this.workerIds
    })
    // a fork the kernel refused (EAGAIN, EMFILE, ENOENT) has no pid and emits 'error' a tick later, and a
    // running child emits it when a signal cannot be sent: unheard, either would take the agent down (and
    // the pool forks from a timer, with no spawn request to fail)
    child.on('error', err => { this.log.warn({ err, worker: id }, 'worker process error') })
    if (child.pid == null) throw new SpawnRefusedError('could not start a worker process')
    const host: PooledHost = { id, child, pid: child.pid, memoryMb, stage: label === PRESTARTED_LABEL ? undefined : label }
    // tagged with the stage the host runs by the time it writes (a pre-started one learns it when
    // taken): one child logger per stage the host is known by, not one per line of output
    let logger: { stage?: string, log: Logger } | undefined
    const tagged = (): Logger => {
      if (logger == null || logger.stage !== host.stage) logger = { stage: host.stage, log: this.log.child({ worker: id, ...(host.stage == null ? {} : { stage: host.stage }) }) }
      return logger.log
    }
    logWorkerOutput(child.stdout!, child.stderr!, {
      info: (...args: Parameters<Logger['info']>) => { tagged().info(...args) },
      warn: (...args: Parameters<Logger['warn']>) => { tagged().warn(...args) },
      debug: (...args: Parameters<Logger['debug']>) => { tagged().debug(...args) }
    })
    this.records?.add(id, child.pid)
    child.once('exit', () => { this.records?.remove(id) })
    return host
  }

  /** The RSS watchdog: --max-old-space-size only bounds the JS heap, not buffers or native memory. */
  private async checkMemory (): Promise<void> {
    for (const worker of this.workers.values()) {
      const limit = worker.info.resources.memoryMb
      if (limit <= 0 || !worker.alive) continue
      const rssMb = await rssOf(worker.info.pid)
      if (rssMb != null && rssMb > limit) {
        this.log.warn({ worker: worker.info.id, rssMb, limitMb: limit }, 'worker over its memory limit: killed')
        worker.killFor(toWireError(new MemoryLimitError(worker.info.id, rssMb, limit)))
      }
    }
  }
}

async function rssOf (pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1]
    return kb == null ? undefined : Math.round(Number(kb) / 1024)
  } catch {
    return undefined
  }
}

function locateWorkerHost (): string {
  if (import.meta.url.endsWith('.ts')) return fileURLToPath(new URL('../cli/worker-host.ts', import.meta.url))
  const besideChunk = fileURLToPath(new URL('./worker-host.js', import.meta.url))
  return existsSync(besideChunk) ? besideChunk : fileURLToPath(new URL('../cli/worker-host.js', import.meta.url))
}
