import { StageDefinitionError } from '../errors.ts'

/** What a stage's functions receive besides the item. */
export interface StageContext {
  /** The stage name the worker was spawned for. */
  stage: string
  /** This worker's id. */
  workerId: string
  /** Environment given at spawn time (also merged into the worker's own environment). */
  env: Record<string, string>
  /** In a stage with `itemTimeoutMs`, this item's own signal: aborted when its attempt times out (stop, and
   * throw or return; a worker still running the item a second later is killed). Absent otherwise. Such an
   * item's ctx is its own: what `setup` stored on the worker's ctx is not on it. */
  signal?: AbortSignal
}

/** What a task's function receives besides its input (a task module is a stage module). */
export interface TaskContext extends StageContext {
  /** Aborted when the task is cancelled or times out: stop, and throw or return. */
  signal: AbortSignal
  /** Sends a value to the submitter (`handle.on('progress')`, `session.events()`). */
  progress: (value: unknown) => void
  /**
   * Sends a line to whoever follows the task (`handle.on('log')`, the HTTP API's live output). Bounded:
   * a line longer than 4096 characters is cut, and beyond 100 lines a second the rest are dropped (a
   * line then says how many).
   */
  log: (line: string) => void
}

/**
 * What a stage's `process` returns for one item: its result, an array of results (fanned out: the next
 * stage or the sink gets each), or undefined (the item is dropped). So `Out` is the type of one result,
 * what the sink gets: an array returned is never passed on whole.
 */
export type StageOutput<Out> = Out | readonly Out[] | undefined

export interface StageDefinition<In = unknown, Out = unknown> {
  setup?: (ctx: StageContext) => void | Promise<void>
  /** One item in, one result out; an array fans out, undefined drops the item. */
  process: (item: In, ctx: StageContext) => StageOutput<Out> | Promise<StageOutput<Out>>
  teardown?: (ctx: StageContext) => void | Promise<void>
}

/** Adds types only: a stage file may equally export a plain function or object. */
export function defineStage<In = unknown, Out = unknown> (definition: StageDefinition<In, Out>): StageDefinition<In, Out> {
  return definition
}

/** A task module: a stage module whose `process` gets a TaskContext (types only; any stage module runs as a task). */
export interface TaskDefinition<In = unknown, Out = unknown> {
  setup?: (ctx: StageContext) => void | Promise<void>
  process: (input: In, ctx: TaskContext) => Out | Promise<Out>
  teardown?: (ctx: StageContext) => void | Promise<void>
}

/** Adds types only, like defineStage: `export default defineTask({ process: async (input, ctx) => ... })`. */
export function defineTask<In = unknown, Out = unknown> (definition: TaskDefinition<In, Out>): TaskDefinition<In, Out> {
  return definition
}

/** Normalizes a stage module's default export. */
export function toStageDefinition (exported: unknown): StageDefinition {
  if (typeof exported === 'function') return { process: exported as StageDefinition['process'] }
  if (exported != null && typeof exported === 'object' && typeof (exported as StageDefinition).process === 'function') return exported as StageDefinition
  throw new StageDefinitionError('a stage module must export default a function or an object with a process(item, ctx) function')
}
