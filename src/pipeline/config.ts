import { ConfigError } from '../errors.ts'
import { checkKnownKeys, checkOption, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { checkResources } from '../checks/resources.ts'
import { abortSignal, concurrency, maxWorkers as maxWorkersPiece, nonNegativeInteger, positiveInteger, positiveNumber, stageName, timerMs } from '../checks/values.ts'
import type { PipelineInit, StageSpec } from './types.ts'
import { isDurableSink, isDurableSource } from '../connectors/types.ts'

/** Every pipeline default, in one place. */
export const PIPELINE_DEFAULTS = {
  maxAttempts: 3,
  window: 16,
  maxWindow: 1024,
  windowMs: 10,
  queueSize: 256,
  equalizeMs: 1000,
  drainMs: 10_000,
  scaleDownAfterMs: 5000,
  utilization: 0.9,
  equalize: true
} as const

const PIPELINE_KEYS: KnownKeys<PipelineInit> = {
  source: true, stages: true, sink: true, maxAttempts: true, window: true, minWindow: true, maxWindow: true, windowMs: true, queueSize: true,
  equalizeMs: true, drainMs: true, scaleDownAfterMs: true, utilization: true, equalize: true, placementTimeoutMs: true, deadLetter: true, signal: true
}

const STAGE_KEYS: KnownKeys<StageSpec> = {
  name: true, module: true, minWorkers: true, maxWorkers: true, resources: true, concurrency: true, latencyObjectiveMs: true, spareWorkers: true, itemTimeoutMs: true
}

/** Every stage default (maxWorkers is at least minWorkers). */
export const STAGE_DEFAULTS = { minWorkers: 1, maxWorkers: 64, concurrency: 1, spareWorkers: 0 } as const

export type ResolvedStage = StageSpec & Required<Pick<StageSpec, 'minWorkers' | 'maxWorkers' | 'concurrency' | 'spareWorkers'>>

/** A pipeline's options with every default filled in and every value checked: read by the run, its stages and its equalizer. */
export interface PipelineOptions extends Required<Omit<PipelineInit, 'source' | 'stages' | 'signal' | 'placementTimeoutMs' | 'deadLetter'>> {
  source?: PipelineInit['source']
  deadLetter?: PipelineInit['deadLetter']
  stages: ResolvedStage[]
  signal?: AbortSignal
  placementTimeoutMs?: number
}

/**
 * Checks `init` and fills its defaults, once (Piscina style): bad options fail
 * `node.pipeline()` at once with a ConfigError naming the option, instead of
 * misbehaving later.
 */
export function resolvePipelineOptions (init: PipelineInit): PipelineOptions {
  checkKnownKeys('init', init, PIPELINE_KEYS, '')
  if (!Array.isArray(init.stages) || init.stages.length === 0) throw new ConfigError('stages', 'a pipeline needs at least one stage')
  if (typeof init.sink !== 'function' && !isDurableSink(init.sink)) throw new ConfigError('sink', 'must be a function or a DurableSink')
  // met only once the run pulled from it, or listened to it: the run failed with a bare TypeError
  if (init.source != null && !isSource(init.source)) throw new ConfigError('source', 'must be an iterable, an async iterable or a DurableSource')
  checkOptional('signal', abortSignal, init.signal)
  const window = checkOptional('window', positiveInteger, init.window) ?? PIPELINE_DEFAULTS.window
  const maxWindow = checkOptional('maxWindow', positiveInteger, init.maxWindow) ?? Math.max(window, PIPELINE_DEFAULTS.maxWindow)
  if (maxWindow < window) throw new ConfigError('maxWindow', `must be >= window (${window})`)
  // by default the window never shrinks below where it starts (see types.ts: minWindow)
  const minWindow = checkOptional('minWindow', positiveInteger, init.minWindow) ?? window
  if (minWindow > window) throw new ConfigError('minWindow', `must be <= window (${window})`)
  if (init.scaleDownAfterMs != null && !(init.scaleDownAfterMs >= 0)) throw new ConfigError('scaleDownAfterMs', `must be >= 0, got ${String(init.scaleDownAfterMs)}`)
  if (init.utilization != null && !(init.utilization > 0 && init.utilization <= 1)) throw new ConfigError('utilization', `must be in (0, 1], got ${String(init.utilization)}`)
  if (init.equalize != null && typeof init.equalize !== 'boolean') throw new ConfigError('equalize', `must be a boolean, got ${String(init.equalize)}`)
  if (init.deadLetter != null && typeof init.deadLetter !== 'function' && !isDurableSink(init.deadLetter)) throw new ConfigError('deadLetter', 'must be a function or a DurableSink')
  return {
    source: init.source,
    stages: resolveStages(init.stages),
    sink: init.sink,
    maxAttempts: checkOptional('maxAttempts', positiveInteger, init.maxAttempts) ?? PIPELINE_DEFAULTS.maxAttempts,
    window,
    minWindow,
    maxWindow,
    windowMs: checkOptional('windowMs', positiveNumber, init.windowMs) ?? PIPELINE_DEFAULTS.windowMs,
    queueSize: checkOptional('queueSize', positiveInteger, init.queueSize) ?? PIPELINE_DEFAULTS.queueSize,
    equalizeMs: checkOptional('equalizeMs', positiveNumber, init.equalizeMs) ?? PIPELINE_DEFAULTS.equalizeMs,
    drainMs: checkOptional('drainMs', positiveNumber, init.drainMs) ?? PIPELINE_DEFAULTS.drainMs,
    scaleDownAfterMs: init.scaleDownAfterMs ?? PIPELINE_DEFAULTS.scaleDownAfterMs,
    utilization: init.utilization ?? PIPELINE_DEFAULTS.utilization,
    equalize: init.equalize ?? PIPELINE_DEFAULTS.equalize,
    placementTimeoutMs: checkOptional('placementTimeoutMs', positiveNumber, init.placementTimeoutMs),
    deadLetter: init.deadLetter,
    signal: init.signal
  }
}

function resolveStages (stages: StageSpec[]): ResolvedStage[] {
  const names = new Set<string>()
  return stages.map((stage, i) => {
    const at = `stages[${i}]`
    checkKnownKeys(at, stage, STAGE_KEYS)
    checkOption(`${at}.name`, stageName, stage.name)
    if (names.has(stage.name)) throw new ConfigError(`${at}.name`, `"${stage.name}" is used twice`)
    names.add(stage.name)
    if (typeof stage.module !== 'string' || stage.module === '') throw new ConfigError(`${at}.module`, 'must be a path to a stage module')
    const minWorkers = checkOptional(`${at}.minWorkers`, nonNegativeInteger, stage.minWorkers) ?? STAGE_DEFAULTS.minWorkers
    const maxWorkers = checkOptional(`${at}.maxWorkers`, maxWorkersPiece, stage.maxWorkers) ?? Math.max(minWorkers, STAGE_DEFAULTS.maxWorkers)
    if (maxWorkers < minWorkers) throw new ConfigError(`${at}.maxWorkers`, `must be >= minWorkers (${minWorkers})`)
    checkOptional(`${at}.latencyObjectiveMs`, positiveNumber, stage.latencyObjectiveMs)
    checkOptional(`${at}.itemTimeoutMs`, timerMs, stage.itemTimeoutMs)
    const spareWorkers = checkOptional(`${at}.spareWorkers`, nonNegativeInteger, stage.spareWorkers) ?? STAGE_DEFAULTS.spareWorkers
    // checked here, not first by the equalizer's capacity probe at its first tick (a throw in a timer)
    checkResources(`${at}.resources`, stage.resources)
    return { ...stage, minWorkers, maxWorkers, spareWorkers, concurrency: checkOptional(`${at}.concurrency`, concurrency, stage.concurrency) ?? STAGE_DEFAULTS.concurrency }
  })
}

function isSource (source: unknown): boolean {
  if (isDurableSource(source)) return true
  const iterable = source as { [Symbol.iterator]?: unknown, [Symbol.asyncIterator]?: unknown }
  return typeof iterable[Symbol.iterator] === 'function' || typeof iterable[Symbol.asyncIterator] === 'function'
}
