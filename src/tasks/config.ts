import { checkKnownKeys, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { flag, nonNegativeInteger, positiveInteger, positiveNumber, timerMs } from '../checks/values.ts'
import { ConfigError } from '../errors.ts'
import { TASKS_DEFAULTS } from './tasks.ts'
import type { TasksConfig } from './tasks.ts'

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
