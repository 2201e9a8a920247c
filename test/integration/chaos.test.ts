import { describe, it, expect, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import type { GridNode } from '../../src/node.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'
import type { TaskInfo } from '../../src/tasks/types.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { seededRandom, injectFaults, childPids, runningWorkerPids, alive, sleep } from './helpers/chaos-faults.ts'
import type { AgentSlot, FaultRecord } from './helpers/chaos-faults.ts'
import { DEFAULT_KILL_TIMEOUT_MS as GRACEFUL_KILL_MS } from '../../src/agent/local-worker.ts'

/** Set to a printed seed to replay a run's faults locally (never commit it set). */
const SEED_OVERRIDE: number | undefined = undefined
const SEED = SEED_OVERRIDE ?? Math.floor(Math.random() * 2 ** 31)

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/chaos/${name}`, import.meta.url))
/** 12 worker slots in all, fewer than the stages and the task pool may ask for: placement runs short under faults too. */
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']
const GRID_SLOTS = 12

// Generous bounds, not measurements: the whole test must stay under 90 s on a loaded 2-core machine.
const ITEMS = 5000
const ITEMS_PER_SECOND = 170
const TASKS = 300
/** Tasks go in bursts, so a killed worker or agent holds several. */
const TASK_BURST = 25
const TASK_BURST_EVERY_MS = 2000
const FAULTS_FOR_MS = 28_000
const SETTLE_WITHIN_MS = 25_000
const CONVERGE_WITHIN_MS = 15_000
const MAX_RETRIES = 3
/** The task pool's tasks.scaleDownAfterMs: an idle pool drains after it. */
const TASK_SCALE_DOWN_MS = 2000

const expectedSinkValue = (n: number): number => (3 * n + 1) * 2
const expectedTaskResult = (n: number): number => n * n + 7

/** Rejects once `ms` passed, naming `what`. */
async function within<T> (what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Yields 1..count at about `perSecond`, stopping early once `signal` aborts. */
async function * paced (count: number, perSecond: number, signal: AbortSignal): AsyncGenerator<number> {
  const started = performance.now()
  for (let n = 1; n <= count && !signal.aborted; n++) {
    const due = started + (n / perSecond) * 1000
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    yield n
  }
}

/** Distinct warn/error messages of the owner and every agent process, with their counts. */
function summarizeWarnings (ownerLines: string[], agents: GridProcess[]): string {
  const counts = new Map<string, number>()
  const examples = new Map<string, string>()
  const add = (who: string, line: { level?: unknown, msg?: unknown }): void => {
    if (typeof line.level !== 'number' || line.level < 40) return
    const key = `${who} ${line.level >= 50 ? 'ERROR' : 'warn'}: ${String(line.msg)}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    if (!examples.has(key)) examples.set(key, JSON.stringify(line).slice(0, 600))
  }
  for (const text of ownerLines) add('owner', JSON.parse(text) as { level?: unknown, msg?: unknown })
  for (const agent of agents) for (const line of agent.lines) add('agent', line)
  return [...counts].map(([key, count]) => `  ${count} x ${key}\n      e.g. ${examples.get(key)}`).join('\n')
}

describe(`chaos: a pipeline and tasks under agent pauses, kills and restarts (seed ${SEED})`, () => {
  let grid: GridFixture | undefined
  const seenPids = new Set<number>()
  const stopFeeding = new AbortController()

  afterAll(async () => {
    stopFeeding.abort()
    await grid?.close()
    // no worker of any agent of this test outlives it (the parent watchdog kills a reparented worker within 250 ms)
    await eventually(() => [...seenPids].every(pid => !alive(pid)) ? true : undefined, 5000, 100)
      .catch(() => { throw new Error(`worker processes outlived their agents: ${[...seenPids].filter(alive).join(', ')}`) })
  }, 30_000)

  it('every item reaches the sink transformed, every task settles with its result, membership converges, no worker is left', async () => {
    console.log(`chaos seed ${SEED} (set SEED_OVERRIDE in test/integration/chaos.test.ts to replay)`)
    const random = seededRandom(SEED)
    grid = await GridFixture.create(4)
    const g = grid
    const first = await g.start('n1', AGENT)
    const slots: AgentSlot[] = [{ name: 'n1', proc: first }]
    for (const name of ['n2', 'n3']) slots.push({ name, proc: await g.start(name, [...AGENT, '--peer', first.address]) })
    const ownerWarnings: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => { ownerWarnings.push(line) } })
    const owner: GridNode = await g.member('n4', first, 3, { logger, tasks: { scaleDownAfterMs: TASK_SCALE_DOWN_MS } })
    const agentIds = slots.map(s => s.proc.peerId)

    const restart = async (slot: AgentSlot, samePort: boolean): Promise<GridProcess> => {
      const peer = ['--peer', slots.find(s => s !== slot)!.proc.address]
      if (!samePort) return await g.start(slot.name, [...AGENT, ...peer])
      // the old port may have been taken meanwhile (an outgoing connection's ephemeral port): then a new one
      return await g.start(slot.name, [...AGENT, '--port', String(slot.proc.port), ...peer]).catch(async () => await g.start(slot.name, [...AGENT, ...peer]))
    }

    // the pipeline: two pure stages, items paced so the run spans the faults
    const sunk = new Map<number, number>()
    const wrong: string[] = []
    const failedItems: FailedItem[] = []
    const run = owner.pipeline('chaos', {
      source: paced(ITEMS, ITEMS_PER_SECOND, stopFeeding.signal),
      stages: [
        { name: 'chaos-triple', module: fixture('triple.mjs'), minWorkers: 2, maxWorkers: 6 },
        { name: 'chaos-tag', module: fixture('tag.mjs'), minWorkers: 2, maxWorkers: 6 }
      ],
      sink: (value) => {
        const { n, v } = value as { n: number, v: number }
        if (v !== expectedSinkValue(n)) wrong.push(JSON.stringify(value))
        sunk.set(n, (sunk.get(n) ?? 0) + 1)
      }
    })
    run.on('item:failed', f => failedItems.push(f))
    const summary = run.done.then(s => ({ ok: true as const, summary: s }), (err: unknown) => ({ ok: false as const, err }))

    // the tasks: one session, paced alongside
    const session = owner.session({ name: 'chaos', maxRetries: MAX_RETRIES })
    const outcomes: Array<Promise<{ n: number, result?: unknown, error?: unknown }>> = []
    const handles = new Map<number, ReturnType<typeof session.submit>>()
    const submitting = (async () => {
      for (let n = 1; n <= TASKS && !stopFeeding.signal.aborted; n++) {
        const handle = session.submit(fixture('task.mjs'), n)
        handles.set(n, handle)
        outcomes.push(handle.result().then(result => ({ n, result }), (error: unknown) => ({ n, error })))
        if (n % TASK_BURST === 0) await sleep(TASK_BURST_EVERY_MS)
      }
      session.close()
    })()

    const startedAt = performance.now()
    let faults: FaultRecord[] = []
    try {
      faults = await injectFaults({
        random,
        slots,
        restart,
        seenPids,
        until: Date.now() + FAULTS_FOR_MS,
        startedAt,
        log: r => console.log(`chaos fault @${r.atMs} ms: ${r.kind} ${r.agent} (${r.detail})`)
      })
    } finally {
      // whatever happened, no agent stays stopped
      for (const slot of slots) slot.proc.proc.kill('SIGCONT')
    }
    expect(faults.length).toBeGreaterThan(0)

    const phases: string[] = []
    let phaseAt = performance.now()
    const phase = (name: string): void => { phases.push(`${name} ${Math.round(performance.now() - phaseAt)} ms`); phaseAt = performance.now() }
    await within('task submission', 10_000, submitting)
    const ended = await within('pipeline run', SETTLE_WITHIN_MS, summary)
    const settled = await within('tasks', SETTLE_WITHIN_MS, Promise.all(outcomes))
    phase('run and tasks settled after the faults')
    const context = JSON.stringify({ seed: SEED, faults: faults.map(f => `${f.atMs} ${f.kind} ${f.agent} ${f.detail}`) })

    // pipeline: at least once, nothing lost, values right, none failed (the stages never throw)
    expect(ended.ok ? undefined : String(ended.err), context).toBeUndefined()
    expect(wrong, context).toEqual([])
    expect(failedItems.map(f => ({ item: f.item, attempts: f.attempts, error: f.error.code ?? f.error.name })), context).toEqual([])
    const missing = Array.from({ length: ITEMS }, (_, i) => i + 1).filter(n => !sunk.has(n))
    expect(missing.slice(0, 20), context).toEqual([])
    if (ended.ok) expect(ended.summary.failed).toBe(0)

    // tasks: each settled with its result; a lost task may fail only once it used up its retries
    const bad = settled.filter(o => 'error' in o || o.result !== expectedTaskResult(o.n))
    const describeTask = (n: number): string => {
      const info: TaskInfo | undefined = handles.get(n)?.info()
      const err = settled.find(o => o.n === n)?.error as { code?: string, message?: string } | undefined
      return `task ${n}: ${info?.status} after ${info?.attempts} attempts: ${err?.code ?? ''} ${err?.message ?? ''}`
    }
    expect(bad.map(o => describeTask(o.n)), context).toEqual([])
    const attempts = [...handles.values()].map(h => h.info().attempts)
    expect(attempts.filter(a => a < 1 || a > MAX_RETRIES + 1), context).toEqual([])
    await within('session done', 5000, session.done)

    // membership: every agent alive again in the owner's table, and each agent sees the other three
    await eventually(() => agentIds.every(id => owner.members().some(m => m.id === id && m.state === 'alive')) ? true : undefined, CONVERGE_WITHIN_MS)
      .catch(() => { throw new Error(`agents not alive: ${JSON.stringify(owner.members().map(m => [m.id.slice(-6), m.state]))} ${context}`) })
    phase('owner sees every agent alive')
    for (const slot of slots) {
      await eventually(async () => (await g.status(slot.proc)).members.filter(m => m.state === 'alive').length === 3 ? true : undefined, CONVERGE_WITHIN_MS)
    }

    phase('every agent sees the other three alive')
    // no worker left: the run's workers are killed as it ends, the task pool's once it has been idle for
    // TASK_SCALE_DOWN_MS after the last task (plus 4 s: generous, a sizing tick and a graceful kill); never
    // under a graceful kill's own bound and a second (its teardown may take 5 s before the SIGKILL: a full
    // CI run's load once had a paused agent's three workers still up 3 s after the run ended)
    const lastTaskEnded = Math.max(...[...handles.values()].map(h => h.info().endedAt ?? Date.now()))
    const drainWithinMs = Math.max(GRACEFUL_KILL_MS + 1000, lastTaskEnded + TASK_SCALE_DOWN_MS + 4000 - Date.now())
    await eventually(async () => {
      for (const slot of slots) {
        const children = new Set(await childPids(slot.proc.proc.pid!))
        for (const child of children) seenPids.add(child)
        if (runningWorkerPids(slot.proc).some(pid => children.has(pid))) return undefined
      }
      return true
    }, drainWithinMs).catch(() => { throw new Error(`workers still running ${drainWithinMs} ms on: ${JSON.stringify(slots.map(s => [s.name, runningWorkerPids(s.proc)]))}`) })
    phase('no worker process left')
    // and each agent's gossiped load says so (no worker or reservation leaked in its accounting)
    const agentLoads = (): string => JSON.stringify(owner.members().filter(m => agentIds.includes(m.id)).map(m => [m.id.slice(-6), m.load.workers, m.load.slotsUsed, m.load.stages]))
    await eventually(() => owner.members().filter(m => agentIds.includes(m.id) && m.load.workers === 0 && m.load.slotsUsed === 0).length === 3 ? true : undefined, CONVERGE_WITHIN_MS)
      .catch(() => { throw new Error(`agents still report load: ${agentLoads()} ${context}`) })
    phase('agents report no load')
    // and the owner holds no worker handle and no reservation: the whole grid has room again
    await eventually(() => owner.workers.list().length === 0 && owner.workers.capacityFor({ cpu: 1 }) === GRID_SLOTS ? true : undefined, CONVERGE_WITHIN_MS)
      .catch(() => { throw new Error(`owner still holds ${owner.workers.list().length} worker handles, room for ${owner.workers.capacityFor({ cpu: 1 })} workers of ${GRID_SLOTS} ${context}`) })
    phase('owner holds no handle or reservation')
    console.log(`chaos seed ${SEED}: after the faults: ${phases.join(', ')}`)
    const duplicates = [...sunk.values()].filter(count => count > 1).length
    console.log(`chaos seed ${SEED}: warnings and errors logged (for a reader; not asserted):\n${summarizeWarnings(ownerWarnings, g.nodes)}`)
    console.log(`chaos seed ${SEED}: ${faults.length} faults, ${duplicates} items sunk more than once, task counts ${JSON.stringify(session.counts())}`)
    console.log(`chaos seed ${SEED}: ${faults.length} faults, ${sunk.size} items, ${settled.length} tasks, summary ${ended.ok ? JSON.stringify({ ...ended.summary, stages: undefined }) : 'failed'}`)
  }, 90_000)
})
