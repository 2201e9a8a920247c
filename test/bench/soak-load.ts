/**
 * The soak bench's steady, rate-limited mixed load, all from one embedded
 * GridNode (the driver, a member without the agent role, so every stage and
 * task runs on the `grid node` agents): a pipeline through 2 stages, tasks,
 * sessions opened and closed, channel writes and deletes on rotating keys,
 * and HTTP requests to the add-ons (metrics, health, the HTTP API's tasks and
 * sessions). Failures are counted, never thrown: a node is killed under it on purpose.
 */
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'
import { readFile } from 'node:fs/promises'
import type { GridNode } from '../../src/node.ts'
import { sleep } from './lib.ts'
import type { SoakNode } from './soak-grid.ts'

const STAGE_A = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))
const STAGE_B = fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))
const TASK = fileURLToPath(new URL('../fixtures/tasks/square.mjs', import.meta.url))
/** Channel keys written in turn; each is deleted half a turn after its write. */
const KEYS = 64
const MAX_FAILURES_KEPT = 5

export interface Rates { itemsPerS: number, tasksPerS: number, sessionEveryS: number, channelOpsPerS: number, httpEveryS: number, apiTaskEveryS: number, apiSessionEveryS: number }

export const DEFAULT_RATES: Rates = { itemsPerS: 20, tasksPerS: 4, sessionEveryS: 5, channelOpsPerS: 5, httpEveryS: 2, apiTaskEveryS: 1, apiSessionEveryS: 10 }

export type Counts = Record<string, number>

export class SoakLoad {
  readonly counts: Counts = {}
  private stopped = false
  private readonly loops: Array<Promise<void>> = []
  private token = ''

  private readonly driver: GridNode
  /** The `grid node` processes running now (the churned one changes). */
  private readonly nodes: () => SoakNode[]
  /** The node serving the HTTP API. */
  private readonly apiNode: SoakNode
  private readonly rates: Rates
  private readonly jwtSecretFile: string

  constructor (driver: GridNode, nodes: () => SoakNode[], apiNode: SoakNode, rates: Rates, jwtSecretFile: string) {
    this.driver = driver
    this.nodes = nodes
    this.apiNode = apiNode
    this.rates = rates
    this.jwtSecretFile = jwtSecretFile
  }

  /** The first failures of each kind, with their messages: a count alone cannot say whose fault it was. */
  readonly failures: Record<string, string[]> = {}

  private count (name: string, by = 1): void { this.counts[name] = (this.counts[name] ?? 0) + by }

  private failed (name: string, err: unknown): void {
    this.count(name)
    this.keep(name, err)
  }

  private keep (name: string, err: unknown): void {
    const kept = this.failures[name] ??= []
    if (kept.length < MAX_FAILURES_KEPT) kept.push(`${new Date().toISOString().slice(11, 23)} ${(err as Error)?.message ?? String(err)}`.slice(0, 300))
  }

  async start (): Promise<void> {
    this.token = await new SignJWT({ scope: 'tasks:read tasks:submit tasks:cancel' }).setProtectedHeader({ alg: 'HS256' }).setSubject('soak').setExpirationTime('2d')
      .sign(await readFile(this.jwtSecretFile))
    this.loops.push(this.pipeline(), this.every(1000 / this.rates.tasksPerS, async () => { await this.task() }),
      this.every(this.rates.sessionEveryS * 1000, async () => { await this.session() }),
      this.every(1000 / this.rates.channelOpsPerS, async i => { this.channelOp(i) }),
      this.every(this.rates.httpEveryS * 1000, async () => { await this.addonRequests() }),
      this.every(this.rates.apiTaskEveryS * 1000, async i => { await this.apiTask(i) }),
      this.every(this.rates.apiSessionEveryS * 1000, async () => { await this.apiSession() }))
  }

  /** Lets every loop finish its current step, and the pipeline drain. */
  async stop (): Promise<void> {
    this.stopped = true
    await Promise.all(this.loops)
  }

  /** `step` then a pause, so one slow step (a killed agent) slows the loop rather than piling up. */
  private async every (periodMs: number, step: (i: number) => Promise<void>): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const t0 = Date.now()
      try { await step(i) } catch (err) { this.failed('loopErrors', err) }
      await sleep(periodMs - (Date.now() - t0))
    }
  }

  private async pipeline (): Promise<void> {
    const self = this
    async function * paced (): AsyncGenerator<number> {
      for (let n = 0; !self.stopped; n++) {
        yield n
        await sleep(1000 / self.rates.itemsPerS)
      }
    }
    const run = this.driver.pipeline('soak', {
      source: paced(),
      stages: [{ name: 'double', module: STAGE_A, maxWorkers: 2 }, { name: 'pass', module: STAGE_B, maxWorkers: 2 }],
      sink: () => { this.count('items') }
    })
    try {
      const summary = await run.done
      this.count('itemsFailed', summary.failed)
    } catch (err) {
      this.failed('pipelineErrors', err)
    }
  }

  private async task (): Promise<void> {
    try {
      await this.driver.run(TASK, 7, { timeoutMs: 30_000 })
      this.count('tasks')
    } catch (err) {
      this.failed('tasksFailed', err)
    }
  }

  private async session (): Promise<void> {
    const session = this.driver.session({ maxRetries: 2, timeoutMs: 30_000 })
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(async n => await session.submit(TASK, n).result()))
    session.close()
    await session.done
    this.count('sessions')
    this.count('sessionTasks', results.filter(r => r.status === 'fulfilled').length)
    const rejected = results.flatMap(r => r.status === 'rejected' ? [r.reason] : [])
    this.count('sessionTasksFailed', rejected.length)
    for (const reason of rejected) this.keep('sessionTasksFailed', reason)
  }

  private channelOp (i: number): void {
    const channel = this.driver.channel('soak')
    channel.set(`k${i % KEYS}`, { i, at: Date.now() })
    if (i >= KEYS / 2) channel.delete(`k${(i - KEYS / 2) % KEYS}`)
    this.count('channelOps', i >= KEYS / 2 ? 2 : 1)
  }

  private async http (url: string, init: RequestInit = {}): Promise<unknown> {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000), headers: { ...(init.body == null ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${this.token}` } })
    const text = await res.text()
    if (!res.ok) throw new Error(`${res.status} from ${url}: ${text.slice(0, 200)}`)
    return text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text
  }

  private async addonRequests (): Promise<void> {
    for (const node of this.nodes()) {
      for (const url of [node.metricsUrl, `${node.healthUrl}/healthz`, `${node.healthUrl}/readyz`]) {
        try { await this.http(url); this.count('httpOk') } catch (err) { this.failed('httpFailed', err) }
      }
    }
  }

  private async apiTask (i: number): Promise<void> {
    try {
      await this.http(`${this.apiNode.apiUrl!}/v1/tasks?wait=1`, { method: 'POST', body: JSON.stringify({ task: 'soak', input: i }) })
      this.count('apiTasks')
    } catch (err) {
      this.failed('apiTasksFailed', err)
    }
  }

  private async apiSession (): Promise<void> {
    const api = this.apiNode.apiUrl!
    try {
      const session = await this.http(`${api}/v1/sessions`, { method: 'POST', body: JSON.stringify({ maxRetries: 2 }) }) as { id: string }
      const id = encodeURIComponent(session.id)
      for (let n = 0; n < 3; n++) await this.http(`${api}/v1/tasks?wait=1`, { method: 'POST', body: JSON.stringify({ task: 'soak', input: n, session: session.id }) })
      await this.http(`${api}/v1/sessions/${id}`)
      await this.http(`${api}/v1/sessions/${id}/close`, { method: 'POST' })
      await this.http(`${api}/v1/sessions`)
      this.count('apiSessions')
    } catch (err) {
      this.failed('apiSessionsFailed', err)
    }
  }
}
