import { ConfigError } from '../errors.ts'
import { checkOption } from '../checks/check.ts'
import { stageName } from '../checks/values.ts'
import type { PipelineInit } from './types.ts'

/** Bad pipeline options fail `node.pipeline()` at once, naming the field, instead of misbehaving later. */
export function checkPipelineInit (init: PipelineInit): void {
  if (!Array.isArray(init.stages) || init.stages.length === 0) throw new ConfigError('stages', 'a pipeline needs at least one stage')
  if (typeof init.sink !== 'function') throw new ConfigError('sink', 'must be a function')
  positiveInt(init.maxAttempts, 'maxAttempts')
  positiveInt(init.window, 'window')
  positiveInt(init.maxWindow, 'maxWindow')
  positiveNumber(init.windowMs, 'windowMs')
  if ((init.maxWindow ?? Infinity) < (init.window ?? 16)) throw new ConfigError('maxWindow', `must be >= window (${init.window ?? 16})`)
  positiveInt(init.queueSize, 'queueSize')
  positiveNumber(init.equalizeMs, 'equalizeMs')
  positiveNumber(init.drainMs, 'drainMs')
  if (init.scaleDownAfterMs != null && !(init.scaleDownAfterMs >= 0)) throw new ConfigError('scaleDownAfterMs', `must be >= 0, got ${String(init.scaleDownAfterMs)}`)
  if (init.utilization != null && !(init.utilization > 0 && init.utilization <= 1)) throw new ConfigError('utilization', `must be in (0, 1], got ${String(init.utilization)}`)
  const names = new Set<string>()
  init.stages.forEach((stage, i) => {
    const at = `stages[${i}]`
    checkOption(`${at}.name`, stageName, stage.name)
    if (names.has(stage.name)) throw new ConfigError(`${at}.name`, `"${stage.name}" is used twice`)
    names.add(stage.name)
    if (typeof stage.module !== 'string' || stage.module === '') throw new ConfigError(`${at}.module`, 'must be a path to a stage module')
    if (stage.minWorkers != null && !(Number.isInteger(stage.minWorkers) && stage.minWorkers >= 0)) throw new ConfigError(`${at}.minWorkers`, `must be an integer >= 0, got ${String(stage.minWorkers)}`)
    positiveInt(stage.maxWorkers, `${at}.maxWorkers`)
    positiveInt(stage.concurrency, `${at}.concurrency`)
    if ((stage.maxWorkers ?? Infinity) < (stage.minWorkers ?? 1)) throw new ConfigError(`${at}.maxWorkers`, `must be >= minWorkers (${stage.minWorkers ?? 1})`)
  })
}

function positiveInt (value: number | undefined, field: string): void {
  if (value != null && !(Number.isInteger(value) && value >= 1)) throw new ConfigError(field, `must be an integer >= 1, got ${String(value)}`)
}

function positiveNumber (value: number | undefined, field: string): void {
  if (value != null && !(typeof value === 'number' && value > 0 && Number.isFinite(value))) throw new ConfigError(field, `must be a number > 0, got ${String(value)}`)
}
