import { checkKnownKeys, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { flag, nonNegativeInteger, positiveInteger, positiveNumber, timerMs } from '../checks/values.ts'
import { ConfigError } from '../errors.ts'
import { DEFAULT_MAX_RESULT_BYTES } from './result-cap.ts'

export interface TasksConfig {
  /** Results of final tasks are served this long, then forgotten (counts remain). */
  resultTtlMs: number
  /** Per module pool: see PoolConfig. */
  window: number
  minWorkers: number
  maxWorkers: number
  sizeEveryMs: number
  scaleDownAfterMs: number
  cancelGraceMs: number
  /** Journal sessions, tasks and results in `tasks.sqlite` in the data dir, so a restarted owner resumes them. */
  durable: boolean
  /** The largest result (as JSON) kept and journaled; a larger one fails its task (ResultTooLargeError). */
  maxResultBytes: number
}

export const TASKS_DEFAULTS: TasksConfig = {
  resultTtlMs: 10 * 60_000,
  window: 4,
  minWorkers: 0,
  maxWorkers: 64,
  sizeEveryMs: 500,
  scaleDownAfterMs: 30_000,
  cancelGraceMs: 1000,
  durable: true,
  maxResultBytes: DEFAULT_MAX_RESULT_BYTES
}

export type TasksInit = Partial<TasksConfig>

const TASKS_KEYS: KnownKeys<TasksInit> = {
  resultTtlMs: true, window: true, minWorkers: true, maxWorkers: true, sizeEveryMs: true, scaleDownAfterMs: true, cancelGraceMs: true,
  durable: true, maxResultBytes: true
}

/** Checks `tasks` options of GridNodeInit and fills defaults; errors name the option. */
export function resolveTasksConfig (init: TasksInit = {}): TasksConfig {
  checkKnownKeys('tasks', init, TASKS_KEYS)
  const config: TasksConfig = {
    resultTtlMs: checkOptional('tasks.resultTtlMs', positiveNumber, init.resultTtlMs) ?? TASKS_DEFAULTS.resultTtlMs,
    window: checkOptional('tasks.window', positiveInteger, init.window) ?? TASKS_DEFAULTS.window,
    minWorkers: checkOptional('tasks.minWorkers', nonNegativeInteger, init.minWorkers) ?? TASKS_DEFAULTS.minWorkers,
    maxWorkers: checkOptional('tasks.maxWorkers', positiveInteger, init.maxWorkers) ?? TASKS_DEFAULTS.maxWorkers,
    sizeEveryMs: checkOptional('tasks.sizeEveryMs', timerMs, init.sizeEveryMs) ?? TASKS_DEFAULTS.sizeEveryMs,
    scaleDownAfterMs: checkOptional('tasks.scaleDownAfterMs', positiveNumber, init.scaleDownAfterMs) ?? TASKS_DEFAULTS.scaleDownAfterMs,
    cancelGraceMs: checkOptional('tasks.cancelGraceMs', timerMs, init.cancelGraceMs) ?? TASKS_DEFAULTS.cancelGraceMs,
    durable: checkOptional('tasks.durable', flag, init.durable) ?? TASKS_DEFAULTS.durable,
    maxResultBytes: checkOptional('tasks.maxResultBytes', positiveInteger, init.maxResultBytes) ?? TASKS_DEFAULTS.maxResultBytes
  }
  if (config.minWorkers > config.maxWorkers) throw new ConfigError('tasks.minWorkers', `must be at most tasks.maxWorkers (${config.maxWorkers}), got ${config.minWorkers}`)
  return config
}
