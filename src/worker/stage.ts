import { StageDefinitionError } from '../errors.ts'

/** What a stage's functions receive besides the item. */
export interface StageContext {
  /** The stage name the worker was spawned for. */
  stage: string
  /** This worker's id. */
  workerId: string
  /** Environment given at spawn time (also merged into the worker's own environment). */
  env: Record<string, string>
}

export interface StageDefinition<In = unknown, Out = unknown> {
  setup?: (ctx: StageContext) => void | Promise<void>
  /** One item in, one result out; an array fans out, undefined drops the item. */
  process: (item: In, ctx: StageContext) => Out | Promise<Out>
  teardown?: (ctx: StageContext) => void | Promise<void>
}

/** Adds types only: a stage file may equally export a plain function or object. */
export function defineStage<In = unknown, Out = unknown> (definition: StageDefinition<In, Out>): StageDefinition<In, Out> {
  return definition
}

/** Normalizes a stage module's default export. */
export function toStageDefinition (exported: unknown): StageDefinition {
  if (typeof exported === 'function') return { process: exported as StageDefinition['process'] }
  if (exported != null && typeof exported === 'object' && typeof (exported as StageDefinition).process === 'function') return exported as StageDefinition
  throw new StageDefinitionError('a stage module must export default a function or an object with a process(item, ctx) function')
}
