import { StageRunner } from '../../../src/pipeline/stage-runner.ts'
import type { StageEvents } from '../../../src/pipeline/stage-runner.ts'
import { resolvePipelineOptions } from '../../../src/pipeline/config.ts'
import type { PipelineInit, StageSpec, UnplaceableStage } from '../../../src/pipeline/types.ts'
import type { WireError } from '../../../src/wire/wire-error.ts'
import { FakeDownstream, FakeWorker, silent } from './fake-worker.ts'
import type { Behaviour } from './fake-worker.ts'

export interface Recorded {
  resulted: number[]
  failed: Array<{ id: string, item: unknown, attempts: number, error: WireError }>
  lost: string[]
  respawning: Array<[number, number]>
  unplaceable: UnplaceableStage[]
  timedOut: Error[]
}

export interface Harness {
  stage: StageRunner
  downstream: FakeDownstream
  workers: FakeWorker[]
  events: Recorded
  spawns: () => number
}

/** A stage wired to stub components: spawn hands out FakeWorkers (or throws what `placement` says), a FakeDownstream after it. */
export function harness (options: Partial<PipelineInit> & { spec?: Partial<StageSpec>, behaviour?: Behaviour, placement?: () => Error | undefined, spawnGate?: () => Promise<void> } = {}): Harness {
  const { spec, behaviour, placement, spawnGate, ...pipeline } = options
  const resolved = resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs', ...spec }], sink: () => {}, ...pipeline })
  const downstream = new FakeDownstream()
  const workers: FakeWorker[] = []
  const events: Recorded = { resulted: [], failed: [], lost: [], respawning: [], unplaceable: [], timedOut: [] }
  let spawns = 0
  const hooks: StageEvents = {
    resulted: n => { events.resulted.push(n) },
    failed: (e, error) => { events.failed.push({ id: e.id, item: e.value, attempts: e.attempts, error }) },
    workerLost: h => { events.lost.push(h.id) },
    respawning: (w, d) => { events.respawning.push([w, d]) },
    unplaceable: r => { events.unplaceable.push(r) },
    cannotStart: err => { events.timedOut.push(err) }
  }
  const stage = new StageRunner({
    spec: resolved.stages[0]!,
    options: resolved,
    downstream,
    spawn: async () => {
      spawns++
      await spawnGate?.()
      const refusal = placement?.()
      if (refusal != null) throw refusal
      const worker = new FakeWorker('s', behaviour)
      workers.push(worker)
      return worker
    },
    events: hooks,
    log: silent
  })
  return { stage, downstream, workers, events, spawns: () => spawns }
}

export const hold: Behaviour = () => 'hold'
