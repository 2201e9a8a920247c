import { describe, it, expect, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { GridProcess, eventually } from '../integration/helpers/grid-process.ts'
import type { LogLine } from '../integration/helpers/grid-process.ts'
import type { StatusJson } from '../integration/helpers/grid-fixture.ts'
import { seededRandom, childPids, runningWorkerPids, alive } from '../integration/helpers/chaos-faults.ts'
import { hasNetem, hasNft, netnsSkipReason } from './network.ts'
import { NetnsGrid, allJoined } from './scenarios.ts'
import { gridInHost, GRID_PORT } from './grid.ts'
import { injectNetworkFaults } from './chaos-faults.ts'
import type { NetworkFaultRecord } from './chaos-faults.ts'
import type { ChaosOwnerConfig } from './chaos-owner.ts'

/** Set to a printed seed to replay a run's faults (never commit it set). */
const SEED_OVERRIDE: number | undefined = undefined
const SEED = SEED_OVERRIDE ?? Math.floor(Math.random() * 2 ** 31)

const OWNER_SCRIPT = fileURLToPath(new URL('./chaos-owner.ts', import.meta.url))
/** Hosts 0-2 run agents (host 0 the seed they join through); host 3 the owner of the pipeline and the tasks. */
const AGENTS = [0, 1, 2]
const OWNER = 3
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']
const GRID_SLOTS = 12

// Generous bounds, not measurements: a run must stay around 60 s on a loaded 2-core machine.
const ITEMS = 5000
const ITEMS_PER_SECOND = 160
const TASKS = 200
const FAULTS_FOR_MS = 26_000
const SETTLE_WITHIN_MS = 40_000
const CONVERGE_WITHIN_MS = 20_000
const MAX_RETRIES = 3
const TASK_SCALE_DOWN_MS = 2000

const expectedSinkValue = (n: number): number => (3 * n + 1) * 2
const expectedTaskResult = (n: number): number => n * n + 7

/** What the owner process reported so far (its `chaos:*` lines). */
function ownerReport (owner: GridProcess): {
  sunk: Map<number, number>
  wrong: string[]
  failed: LogLine[]
  tasks: Map<number, LogLine>
  ended?: LogLine
  status?: LogLine
} {
  const sunk = new Map<number, number>()
  const wrong: string[] = []
  const failed: LogLine[] = []
  const tasks = new Map<number, LogLine>()
  let ended: LogLine | undefined
  let status: LogLine | undefined
  for (const line of owner.lines) {
    if (line.msg === 'chaos:sunk') {
      for (const [n, v] of line.items as Array<[number, number]>) {
        if (v !== expectedSinkValue(n)) wrong.push(`${n} -> ${v}`)
        sunk.set(n, (sunk.get(n) ?? 0) + 1)
      }
    } else if (line.msg === 'chaos:item-failed') failed.push(line)
    else if (line.msg === 'chaos:task') tasks.set(Number(line.n), line)
    else if (line.msg === 'chaos:run-done' || line.msg === 'chaos:run-failed') ended = line
    else if (line.msg === 'chaos:status') status = line
  }
  return { sunk, wrong, failed, tasks, ended, status }
}

interface OwnerStatus { members: Array<{ id: string, state: string, role: string, workers: number, slotsUsed: number }>, handles: number, room: number }

/**
 * Exits, fatal lines and what looks like a crash of every process. A process's stderr ends up among
 * its lines as level-0 lines (GridProcess parses stdout and stderr from one buffer): an uncaught
 * error's message and stack land there.
 */
function crashes (nodes: GridProcess[]): string[] {
  return nodes.flatMap((node, i) => {
    const found: string[] = []
    if (node.proc.exitCode != null || node.proc.signalCode != null) found.push(`host ${i} exited (${node.proc.exitCode ?? node.proc.signalCode})`)
    for (const line of node.lines) {
      const crashText = line.level === 0 && /error|uncaught|unhandled|^\s+at /i.test(line.msg)
      if (line.level >= 60 || crashText || /uncaught|unhandled/i.test(line.msg)) found.push(`host ${i}: ${JSON.stringify(line).slice(0, 400)}`)
    }
    return found
  })
}

/** Distinct warn/error messages per host, with their counts and a first example (for a reader; not asserted). */
function summarizeWarnings (nodes: GridProcess[]): string {
  const counts = new Map<string, number>()
  const examples = new Map<string, string>()
  for (const [i, node] of nodes.entries()) {
    for (const line of node.lines) {
      if (line.level < 40) continue
      const key = `host ${i} ${line.level >= 50 ? 'ERROR' : 'warn'}: ${line.msg}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
      if (!examples.has(key)) examples.set(key, JSON.stringify({ ...line, msg: undefined, level: undefined, pid: undefined, hostname: undefined }).slice(0, 500))
    }
  }
  return [...counts].map(([key, count]) => `  ${count} x ${key}\n      e.g. ${examples.get(key)}`).join('\n')
}

/** Each host's member:suspect/fail/rejoin lines, in time order, naming hosts by index (the CLI's lines: the membership component logs each transition too). */
function membershipTimeline (nodes: GridProcess[], since: number): string {
  const hostOf = (id: unknown): string => { const i = nodes.findIndex(n => n.peerId === id); return i < 0 ? String(id).slice(-6) : `host ${i}` }
  const events = nodes.flatMap((node, i) => node.lines
    .filter(l => ['member:suspect', 'member:fail', 'member:rejoin'].includes(l.msg) && l.component == null && Number(l.time) >= since)
    .map(l => ({ at: Number(l.time) - since, text: `host ${i}: ${l.msg} ${hostOf(l.member)}` })))
  return events.sort((a, b) => a.at - b.at).map(e => `  @${e.at} ${e.text}`).join('\n')
}

const unavailable = netnsSkipReason()

describe.skipIf(unavailable != null || !hasNft())(`netns chaos: a pipeline and tasks under partitions, one-way cuts and loss (seed ${SEED})`, () => {
  let grid: NetnsGrid | undefined
  const seenPids = new Set<number>()

  afterAll(async () => {
    await grid?.close()
    // no worker of any agent outlives it
    await eventually(() => [...seenPids].every(pid => !alive(pid)) ? true : undefined, 5000, 100)
      .catch(() => { throw new Error(`worker processes outlived their agents: ${[...seenPids].filter(alive).join(', ')}`) })
  }, 60_000)

  it('every item reaches the sink with its value, every task has its result, membership converges, no worker is left, nothing crashed', async () => {
    console.log(`netns chaos seed ${SEED} (set SEED_OVERRIDE in test/netns/chaos.test.ts to replay)`)
    const random = seededRandom(SEED)
    const netem = hasNetem()
    grid = await NetnsGrid.create(4)
    const g = grid
    for (const i of AGENTS) await g.start(i, AGENT)
    await allJoined(AGENTS.map(i => g.nodes[i]!))
    const config: ChaosOwnerConfig = {
      certs: g.certs,
      name: `n${OWNER}`,
      host: g.net.hosts[OWNER]!.address,
      port: GRID_PORT,
      peers: [g.address(0), g.address(1)],
      dataDir: join(g.dir, 'owner-data'),
      agents: AGENTS.length,
      items: ITEMS,
      itemsPerSecond: ITEMS_PER_SECOND,
      tasks: TASKS,
      taskBurst: 20,
      taskBurstEveryMs: 2000,
      maxRetries: MAX_RETRIES,
      scaleDownAfterMs: TASK_SCALE_DOWN_MS
    }
    const owner = new GridProcess([], {}, undefined, [...g.net.exec(OWNER), process.execPath, OWNER_SCRIPT, JSON.stringify(config)])
    g.nodes[OWNER] = owner
    await owner.firstLine(l => l.msg === 'chaos:ready', 30_000)
    const agentIds = AGENTS.map(i => g.nodes[i]!.peerId)
    const everyone = g.nodes.map(n => n.peerId)
    const snapshotPids = async (): Promise<void> => {
      for (const i of AGENTS) for (const pid of await childPids(g.nodes[i]!.proc.pid!)) seenPids.add(pid)
    }
    // items flow before the first fault
    await eventually(() => ownerReport(owner).sunk.size > 200 ? true : undefined, 20_000, 100)
    await snapshotPids()

    const startedAt = performance.now()
    const startedWall = Date.now()
    const faults: NetworkFaultRecord[] = await injectNetworkFaults({
      random,
      net: g.net,
      agents: AGENTS,
      owner: OWNER,
      netem,
      until: Date.now() + FAULTS_FOR_MS,
      startedAt,
      log: r => { console.log(`netns chaos fault @${r.atMs} ms: ${r.kind}: ${r.detail}`) }
    })
    expect(faults.length).toBeGreaterThan(0)
    await snapshotPids()
    const context = JSON.stringify({ seed: SEED, netem, faults: faults.map(f => `${f.atMs} ${f.kind}: ${f.detail}`) })

    const phases: string[] = []
    let phaseAt = performance.now()
    const phase = (name: string): void => { phases.push(`${name} ${Math.round(performance.now() - phaseAt)} ms`); phaseAt = performance.now() }
    await eventually(() => {
      const report = ownerReport(owner)
      return report.ended != null && report.tasks.size === TASKS ? true : undefined
    }, SETTLE_WITHIN_MS, 200).catch(() => {
      const report = ownerReport(owner)
      throw new Error(`not settled within ${SETTLE_WITHIN_MS} ms: run ${report.ended?.msg ?? 'still running'}, ${report.sunk.size} of ${ITEMS} items sunk, ${report.tasks.size} of ${TASKS} tasks settled ${context}`)
    })
    phase('run and tasks settled after the faults')
    const report = ownerReport(owner)

    // pipeline: at least once (the README's delivery for a plain sink), nothing lost, values right, none failed
    expect(report.ended?.msg === 'chaos:run-done' ? undefined : report.ended?.error, context).toBeUndefined()
    expect(report.wrong, context).toEqual([])
    expect(report.failed.map(f => JSON.stringify(f)), context).toEqual([])
    const missing = Array.from({ length: ITEMS }, (_, i) => i + 1).filter(n => !report.sunk.has(n))
    expect(missing.slice(0, 20), context).toEqual([])
    expect((report.ended?.summary as { failed?: number } | undefined)?.failed, context).toBe(0)

    // tasks: each completed with its result, within its retries
    const bad = [...report.tasks.values()].filter(t => t.error != null || t.result !== expectedTaskResult(Number(t.n)))
    expect(bad.map(t => `task ${String(t.n)}: ${String(t.error ?? t.result)} after ${String(t.attempts)} attempts`), context).toEqual([])
    expect([...report.tasks.values()].filter(t => Number(t.attempts) < 1 || Number(t.attempts) > MAX_RETRIES + 1).map(t => t.n), context).toEqual([])
    await owner.firstLine(l => l.msg === 'chaos:tasks-done', 5000)

    // membership: the owner sees every agent alive, and each agent every other node
    const ownerStatus = (): OwnerStatus => ownerReport(owner).status as unknown as OwnerStatus
    await eventually(() => agentIds.every(id => ownerStatus().members.some(m => m.id === id && m.state === 'alive')) ? true : undefined, CONVERGE_WITHIN_MS, 250)
      .catch(() => { throw new Error(`owner does not see every agent alive: ${JSON.stringify(ownerStatus().members.map(m => [m.id.slice(-6), m.state]))} ${context}`) })
    for (const i of AGENTS) {
      const others = everyone.filter(id => id !== g.nodes[i]!.peerId)
      let last = ''
      await eventually(async () => {
        const res = await gridInHost(g.net, i, ['status', '--peer', `127.0.0.1:${GRID_PORT}`, '--certs', g.certs, '--json', '--timeout', '5000'])
        if (res.code !== 0) { last = res.stderr; return undefined }
        const status = JSON.parse(res.stdout) as StatusJson
        last = JSON.stringify(status.members.map(m => [m.id.slice(-6), m.state]))
        return others.every(id => status.members.some(m => m.id === id && m.state === 'alive')) ? true : undefined
      }, CONVERGE_WITHIN_MS, 500).catch(() => { throw new Error(`host ${i} does not see every other node alive: ${last} ${context}`) })
    }
    phase('membership converged')

    // no worker left: the run's are killed as it ends, the task pool's once idle for TASK_SCALE_DOWN_MS (plus slack)
    await eventually(async () => {
      for (const i of AGENTS) {
        const agent = g.nodes[i]!
        const children = new Set(await childPids(agent.proc.pid!))
        for (const child of children) seenPids.add(child)
        if (runningWorkerPids(agent).some(pid => children.has(pid))) return undefined
      }
      return true
    }, TASK_SCALE_DOWN_MS + 10_000, 250).catch(() => { throw new Error(`workers still running: ${JSON.stringify(AGENTS.map(i => [i, runningWorkerPids(g.nodes[i]!)]))} ${context}`) })
    // nor in any agent's gossiped load, nor a handle or reservation in the owner
    await eventually(() => {
      const status = ownerStatus()
      const idle = status.members.filter(m => agentIds.includes(m.id) && m.workers === 0 && m.slotsUsed === 0).length === AGENTS.length
      return idle && status.handles === 0 && status.room === GRID_SLOTS ? true : undefined
    }, CONVERGE_WITHIN_MS, 250).catch(() => { throw new Error(`load or handles left: ${JSON.stringify(ownerStatus())} ${context}`) })
    phase('no worker left')

    // no process crashed
    expect(crashes(g.nodes), context).toEqual([])
    // and no node took a network fault for a hostile peer: nothing here sends a malformed message, so a
    // rejection logged as malformed is a cut stream misread (rejections log once a minute per peer and reason)
    const misread = g.nodes.flatMap((n, i) => n.lines.filter(l => l.rejected === 'malformed').map(l => `host ${i}: ${l.msg}: ${String(l.reason)}`))
    expect(misread, context).toEqual([])

    const duplicates = [...report.sunk.values()].filter(count => count > 1).length
    console.log(`netns chaos seed ${SEED}: after the faults: ${phases.join(', ')}`)
    console.log(`netns chaos seed ${SEED}: warnings and errors logged (not asserted):\n${summarizeWarnings(g.nodes)}`)
    const lost = owner.lines.filter(l => l.msg === 'chaos:worker-lost').length
    const failures = g.nodes.map(n => n.lines.filter(l => l.msg === 'member:fail' && l.component == null).length)
    console.log(`netns chaos seed ${SEED}: ${lost} workers lost, members marked failed per host ${JSON.stringify(failures)}`)
    console.log(`netns chaos seed ${SEED}: membership timeline (ms since the first fault; not asserted):\n${membershipTimeline(g.nodes, startedWall)}`)
    console.log(`netns chaos seed ${SEED}: ${faults.length} faults, ${report.sunk.size} items (${duplicates} sunk more than once), ${report.tasks.size} tasks, summary ${JSON.stringify(report.ended?.summary)}`)
  }, 150_000)
})
