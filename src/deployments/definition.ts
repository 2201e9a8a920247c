import * as v from 'valibot'
import type { DurableSink, DurableSource, redisStreamSink, redisStreamSource } from '../connectors/index.ts'
import type { PipelineInit, StageSpec } from '../pipeline/types.ts'
import type { Logger } from '../logger.ts'
import { ConfigError, DefinitionError } from '../errors.ts'
import { resolvePipelineOptions } from '../pipeline/config.ts'
import { MAX_TIMEOUT_MS } from '../checks/values.ts'

/** The connectors a definition gets from the member that runs it (a definition imports nothing of gridd). */
export interface Connectors {
  redisStreamSource: typeof redisStreamSource
  redisStreamSink: typeof redisStreamSink
}

/**
 * The connectors as a run gets them: logging to the run's logger unless the definition passes a `log` of its own.
 * Imported at a deployment's first run, not with the node: ioredis is a quarter of the `grid` bundle's
 * code, and a node that runs no deployment (most, and every idle one) never needs it.
 */
export async function connectorsFor (log: Logger): Promise<Connectors> {
  const { redisStreamSource, redisStreamSink } = await import('../connectors/index.ts')
  return {
    redisStreamSource: options => redisStreamSource({ log, ...options }),
    redisStreamSink: options => redisStreamSink({ log, ...options })
  }
}

/** What a definition's source and sink factories are called with, on the member that runs the deployment. */
export interface DefinitionContext {
  /** The deployment's name. */
  name: string
  /** What `deploy` was given as `params` (JSON), the same on every member. */
  params: unknown
  /** This owner's consumer name in a consumer group (one per member): pass it to the source. */
  consumer: string
  /** Pending entries idle this long belong to an owner that is gone: pass it to the source as `claimIdleMs`. */
  claimIdleMs: number
  connectors: Connectors
  /** Aborted when this member stops running the deployment. */
  signal: AbortSignal
  log: Logger
}

/** Pipeline options a definition may set (the rest of PipelineInit is the owner's). */
export type DefinitionOptions = Pick<PipelineInit, 'maxAttempts' | 'window' | 'minWindow' | 'maxWindow' | 'windowMs' | 'queueSize' | 'equalizeMs' | 'drainMs' | 'scaleDownAfterMs' | 'utilization' | 'equalize' | 'placementTimeoutMs'>

/**
 * A deployable pipeline: the default export of a deployment's file. `stages[].module`
 * is a path (relative to the definition's file, or absolute) or a file URL; each stage
 * is bundled and stored with the definition at deploy time.
 */
export interface PipelineDefinition<In = unknown, Out = unknown> {
  source: (ctx: DefinitionContext) => DurableSource<In> | Iterable<In> | AsyncIterable<In> | Promise<DurableSource<In>>
  stages: Array<Omit<StageSpec, 'module'> & { module: string | URL }>
  sink: (ctx: DefinitionContext) => DurableSink<Out> | ((result: Out, id: string) => unknown) | Promise<DurableSink<Out>>
  /** Makes the run's `deadLetter` (see PipelineInit: a function, or a DurableSink such as `ctx.connectors.redisStreamSink` to a stream of its own): each item that failed for good goes there, and its entry is acknowledged only once it is. */
  deadLetter?: (ctx: DefinitionContext) => NonNullable<PipelineInit['deadLetter']> | Promise<NonNullable<PipelineInit['deadLetter']>>
  options?: DefinitionOptions
}

const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const positive = v.pipe(v.number(), v.minValue(0))
// strict like the options: the run's pipeline refuses a key it does not know, so deploy refuses it first
const stageSchema = v.strictObject({
  name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a stage name is 1-64 letters, digits, ".", "_" or "-"')),
  module: v.union([v.pipe(v.string(), v.minLength(1)), v.instance(URL)], 'module must be a path or a file URL'),
  minWorkers: v.optional(count),
  maxWorkers: v.optional(count),
  resources: v.optional(v.strictObject({ cpu: v.optional(positive), memoryMb: v.optional(positive) })),
  concurrency: v.optional(v.pipe(count, v.minValue(1))),
  latencyObjectiveMs: v.optional(positive),
  spareWorkers: v.optional(count),
  // refused here as the run refuses it (timerMs: a longer timer fires at once), not when the deployment runs
  itemTimeoutMs: v.optional(v.pipe(v.number(), v.gtValue(0), v.maxValue(MAX_TIMEOUT_MS)))
})
// every stage option a run takes, a definition takes: the compiler holds the two lists together
void (stageSchema.entries satisfies Record<keyof StageSpec, unknown>)
const optionsSchema = v.strictObject({
  maxAttempts: v.optional(v.pipe(count, v.minValue(1))),
  window: v.optional(v.pipe(count, v.minValue(1))),
  minWindow: v.optional(v.pipe(count, v.minValue(1))),
  maxWindow: v.optional(v.pipe(count, v.minValue(1))),
  windowMs: v.optional(positive),
  queueSize: v.optional(v.pipe(count, v.minValue(1))),
  equalizeMs: v.optional(positive),
  drainMs: v.optional(positive),
  scaleDownAfterMs: v.optional(positive),
  utilization: v.optional(v.pipe(v.number(), v.minValue(0.05), v.maxValue(1))),
  equalize: v.optional(v.boolean()),
  placementTimeoutMs: v.optional(positive)
})
void (optionsSchema.entries satisfies Record<Exclude<keyof PipelineInit, 'source' | 'stages' | 'sink' | 'deadLetter' | 'signal'>, unknown>)
const fn = v.custom<(...args: never[]) => unknown>(f => typeof f === 'function', 'must be a function (ctx) => …')
const definitionSchema = v.strictObject({
  source: fn,
  stages: v.pipe(v.array(stageSchema), v.minLength(1, 'needs at least one stage'), v.maxLength(32), v.check(s => new Set(s.map(x => x.name)).size === s.length, 'stage names must differ')),
  sink: fn,
  deadLetter: v.optional(fn),
  options: v.optional(optionsSchema)
})

/** The default export of module `exports` (loaded from `file`) as a definition; DefinitionError naming the first problem. */
export function checkDefinition (exports: unknown, file: string): PipelineDefinition {
  const value = (exports as { default?: unknown } | null)?.default
  if (value == null) throw new DefinitionError(file, 'has no default export: `export default { source: (ctx) => …, stages: [{ name, module }], sink: (ctx) => … }`')
  const result = v.safeParse(definitionSchema, value)
  if (!result.success) {
    const issue = result.issues[0]
    const path = v.getDotPath(issue)
    throw new DefinitionError(file, `${path == null ? 'default export' : path}: ${readable(issue)}`)
  }
  checkAsTheRunWill(value as PipelineDefinition, file)
  return value as PipelineDefinition
}

/**
 * The run's own validation (resolvePipelineOptions), the modules stood in for: what the run refuses
 * (`maxWorkers: 0`, minWorkers over maxWorkers, `windowMs: 0`, a window over maxWindow) is refused at
 * deploy, not by every launch of the deployment for ever. One source of the rules, so the two cannot drift.
 */
function checkAsTheRunWill (definition: PipelineDefinition, file: string): void {
  try {
    resolvePipelineOptions({ ...definition.options, stages: definition.stages.map(stage => ({ ...stage, module: 'stage.mjs' })), sink: () => {} })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    // named as the definition names it: stages[0].maxWorkers -> stages.0.maxWorkers, windowMs -> options.windowMs
    const stage = /^stages\[(\d+)\]/.exec(err.option)
    const path = stage != null ? err.option.replace(stage[0], `stages.${stage[1]}`) : `options.${err.option}`
    throw new DefinitionError(file, `${path}: ${err.message.slice(err.option.length + 2)}`, { cause: err })
  }
}

/** valibot's words for a key missing or unknown ("Invalid key: Expected never but received …") in the terms the options use. */
function readable (issue: v.BaseIssue<unknown>): string {
  if (issue.kind !== 'schema' || (issue.type !== 'object' && issue.type !== 'strict_object')) return issue.message
  // a key issue only (a known key of the wrong type, `resources: 5`, keeps valibot's "Expected Object but received 5")
  const missing = issue.input === undefined && issue.expected?.startsWith('"') === true
  if (!missing && issue.expected !== 'never') return issue.message
  const entries = entriesAt(issue.path?.slice(0, -1).map(p => p.key) ?? [])
  if (entries == null) return issue.message
  if (missing) return `missing (needed: ${Object.keys(entries).filter(k => entries[k]?.type !== 'optional').join(', ')})`
  return `unknown option (known: ${Object.keys(entries).join(', ')})`
}

/** The schema's entries at a path of the definition (`[]`: the definition, `['stages', 0]`: a stage). */
function entriesAt (path: unknown[]): Record<string, { type: string }> | undefined {
  const [first, second, third] = path
  if (path.length === 0) return definitionSchema.entries
  if (first === 'stages' && path.length === 2) return stageSchema.entries
  if (first === 'stages' && path.length === 3 && third === 'resources' && second != null) return stageSchema.entries.resources.wrapped.entries
  if (first === 'options' && path.length === 1) return optionsSchema.entries
  return undefined
}
