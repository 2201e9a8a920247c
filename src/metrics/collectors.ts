import { Counter, Gauge, Registry } from 'prom-client'
import type { AddonHost } from '../addons/host.ts'
import type { PipelineRun } from '../pipeline/run.ts'
import type { StageSummary } from '../pipeline/types.ts'
import { taskMetrics } from './task-metrics.ts'

const STATES = ['alive', 'suspect', 'failed', 'left'] as const
const PRESSURES = ['high', 'even', 'low'] as const
const STRATEGIES = ['horizontal', 'vertical'] as const
/**
 * Finished pipeline stages whose item totals are kept, the least recently finished forgotten first:
 * pipeline names are not bounded (a member may deploy under new names one after another), and each
 * kept stage is a series of every item counter.
 */
export const MAX_FINISHED_STAGES = 1024

/** The counters of two runs of the same pipeline stage, summed (maxWorkers is not a counter). */
function add (a: StageSummary, b: StageSummary): Pick<StageSummary, 'processed' | 'failed' | 'retried' | 'decisions'> {
  return { processed: a.processed + b.processed, failed: a.failed + b.failed, retried: a.retried + b.retried, decisions: a.decisions + b.decisions }
}

/**
 * gridd's metrics on a per-node prom-client Registry (never the global one:
 * several nodes may share a process). Gauges read the node's state when
 * scraped; item counters add finished runs to the live totals of running ones.
 */
export function createRegistry (node: Pick<AddonHost, 'self' | 'members' | 'pipelines' | 'connectedPeers' | 'rejectedMessages' | 'certificateNotAfter' | 'tasksOverview'> & Partial<Pick<AddonHost, 'refusedConnections' | 'moduleCacheBytes'>>): { registry: Registry, track: (run: PipelineRun) => void } {
  const registry = new Registry()
  const finished = new Map<string, StageSummary>()
  let forgottenDecisions = 0
  const active = new Set<PipelineRun>()
  const track = (run: PipelineRun): void => {
    if (active.has(run)) return
    active.add(run)
    const settle = (): void => {
      active.delete(run)
      for (const t of run.totals()) {
        const key = `${run.name}\u0000${t.name}`
        const before = finished.get(key) ?? { name: t.name, processed: 0, failed: 0, retried: 0, maxWorkers: 0, decisions: 0 }
        finished.delete(key)
        finished.set(key, { ...before, ...add(before, t) })
        if (finished.size > MAX_FINISHED_STAGES) {
          const [oldest, forgotten] = oldestEvictable()
          finished.delete(oldest)
          // its decisions stay counted, under the empty label pair (see gridd_equalizer_decisions_total)
          forgottenDecisions += forgotten.decisions
        }
      }
    }
    run.done.then(settle, settle)
  }
  /**
   * The least recently finished stage of a pipeline with no run going on: one that has a run would see its
   * series fall to that run's own totals, which Prometheus takes for a counter reset (`increase()` spikes).
   */
  const oldestEvictable = (): [string, StageSummary] => {
    const running = new Set([...active].map(run => run.name))
    for (const entry of finished) if (!running.has(entry[0].split('\u0000')[0]!)) return entry
    return finished.entries().next().value!
  }

  const stageTotals = (): Array<{ pipeline: string, stage: string, t: StageSummary }> => {
    const rows = new Map<string, { pipeline: string, stage: string, t: StageSummary }>()
    for (const [key, t] of finished) rows.set(key, { pipeline: key.split('\u0000')[0]!, stage: t.name, t: { ...t } })
    for (const run of active) {
      for (const t of run.totals()) {
        const key = `${run.name}\u0000${t.name}`
        const row = rows.get(key)
        if (row == null) rows.set(key, { pipeline: run.name, stage: t.name, t: { ...t } })
        else Object.assign(row.t, add(row.t, t))
      }
    }
    return [...rows.values()]
  }

  new Gauge({
    name: 'gridd_members', help: 'Members this node knows of (itself included), by state', labelNames: ['state'], registers: [registry],
    collect () {
      const all = [node.self(), ...node.members()]
      for (const state of STATES) this.set({ state }, all.filter(m => m.state === state).length)
    }
  })
  new Gauge({
    name: 'gridd_load', help: 'This node\'s gossiped load: cpu (0..1), workers, max_workers, slots_used, memory_used_mb, memory_free_mb', labelNames: ['measure'], registers: [registry],
    collect () {
      const load = node.self().load
      this.set({ measure: 'cpu' }, load.cpu)
      this.set({ measure: 'workers' }, load.workers)
      this.set({ measure: 'max_workers' }, load.maxWorkers)
      this.set({ measure: 'slots_used' }, load.slotsUsed)
      this.set({ measure: 'memory_used_mb' }, load.memoryUsedMb)
      this.set({ measure: 'memory_free_mb' }, load.memoryFreeMb)
    }
  })
  // as an admin set them (`grid weight`, `grid strategy`): weight 0 is how an agent is drained
  new Gauge({
    name: 'gridd_placement_weight', help: 'This node\'s placement weight (grid weight; 0: placed on only if nothing else fits, a drained agent)', registers: [registry],
    collect () { this.set(node.self().weight) }
  })
  new Gauge({
    name: 'gridd_placement_strategy', help: '1 for this node\'s placement strategy (horizontal or vertical), 0 for the other', labelNames: ['strategy'], registers: [registry],
    collect () { for (const strategy of STRATEGIES) this.set({ strategy }, node.self().strategy === strategy ? 1 : 0) }
  })
  new Gauge({
    name: 'gridd_agent_workers', help: 'Worker processes running on this agent, by stage', labelNames: ['stage'], registers: [registry],
    collect () {
      this.reset()
      for (const [stage, n] of Object.entries(node.self().load.stages)) this.set({ stage }, n)
    }
  })
  const stageGauge = (name: string, help: string, pick: (s: ReturnType<PipelineRun['stats']>['stages'][number]) => number): Gauge => new Gauge({
    name, help, labelNames: ['pipeline', 'stage'], registers: [registry],
    collect () {
      this.reset()
      for (const run of node.pipelines()) for (const s of run.stats().stages) this.set({ pipeline: run.name, stage: s.name }, pick(s))
    }
  })
  stageGauge('gridd_stage_workers', 'Workers of each stage of the pipelines this node owns', s => s.workers)
  stageGauge('gridd_stage_arrival_rate', 'Items per second offered to the stage (EWMA)', s => s.arrivalRate)
  stageGauge('gridd_stage_processing_rate', 'Items per second one worker processes while busy', s => s.processingRate)
  stageGauge('gridd_stage_queue_length', 'Items queued for the stage on the owner', s => s.queued)
  stageGauge('gridd_stage_in_flight', 'Items on the stage\'s workers', s => s.inFlight)
  stageGauge('gridd_stage_window', 'Credit window per worker', s => s.window)
  new Gauge({
    name: 'gridd_stage_pressure', help: '1 for the stage\'s current pressure (high, even or low), 0 for the others', labelNames: ['pipeline', 'stage', 'pressure'], registers: [registry],
    collect () {
      this.reset()
      for (const run of node.pipelines()) for (const s of run.stats().stages) for (const p of PRESSURES) this.set({ pipeline: run.name, stage: s.name, pressure: p }, s.pressure === p ? 1 : 0)
    }
  })
  const itemCounter = (name: string, help: string, pick: (t: StageSummary) => number, forgotten = (): number => 0): Counter => new Counter({
    name, help, labelNames: ['pipeline', 'stage'], registers: [registry],
    collect () {
      this.reset()
      for (const row of stageTotals()) this.inc({ pipeline: row.pipeline, stage: row.stage }, pick(row.t))
      if (forgotten() > 0) this.inc({ pipeline: '', stage: '' }, forgotten())
    }
  })
  itemCounter('gridd_items_processed_total', 'Items a stage\'s workers processed', t => t.processed)
  itemCounter('gridd_items_failed_total', 'Items reported failed (attempts exhausted or poison)', t => t.failed)
  itemCounter('gridd_items_retried_total', 'Item attempts retried', t => t.retried)
  // the stages' own decision counts (what the summary reports), so runs started before the add-on count in full.
  // Those of finished stages forgotten past MAX_FINISHED_STAGES go under pipeline="" and stage="" (no pipeline
  // or stage has an empty name; Prometheus reads empty labels as none), so the sum over labels never goes down
  itemCounter('gridd_equalizer_decisions_total', 'Equalizer actions (spawns and drains) on pipelines this node owns, by stage (pipeline="", stage="": stages finished and forgotten since)', t => t.decisions, () => forgottenDecisions)
  new Gauge({
    name: 'gridd_libp2p_connections', help: 'Peers this node has an open libp2p connection to', registers: [registry],
    collect () { this.set(node.connectedPeers().length) }
  })
  new Counter({
    name: 'gridd_rejected_messages_total', help: 'Bad messages from peers dropped (logged at most once a minute per peer), by protocol and reason', labelNames: ['protocol', 'reason'], registers: [registry],
    collect () {
      this.reset()
      for (const row of node.rejectedMessages()) this.inc({ protocol: row.protocol, reason: row.reason }, row.count)
    }
  })
  new Counter({
    name: 'gridd_refused_connections_total', help: 'Connections refused at the mTLS handshake (logged at most once a minute per host and reason), by direction and reason', labelNames: ['direction', 'reason'], registers: [registry],
    collect () {
      this.reset()
      for (const row of node.refusedConnections?.() ?? []) this.inc({ direction: row.direction, reason: row.reason }, row.count)
    }
  })
  new Gauge({
    name: 'gridd_certificate_expiry_seconds', help: 'Seconds until this node\'s certificate expires (the node warns within 30 days; negative once expired)', registers: [registry],
    collect () { this.set(Math.round((node.certificateNotAfter() - Date.now()) / 1000)) }
  })
  new Gauge({
    name: 'gridd_module_cache_bytes', help: 'Bytes of this agent\'s cache of shipped stage and task code on disk, in whole 4 KiB blocks as its quota (--module-cache-mb) counts them; 0 on a node that is not an agent', registers: [registry],
    collect () { this.set(node.moduleCacheBytes?.() ?? 0) }
  })
  taskMetrics(registry, node)
  return { registry, track }
}
