import { checkKnownKeys, checkOptional, shown } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { abortSignal, taskPriority, taskRetries, taskTimeoutMs } from '../checks/values.ts'
import type { SessionOptions, TaskOptions } from './types.ts'
import { ConfigError } from '../errors.ts'
import { checkResources } from '../checks/resources.ts'

const TASK_KEYS: KnownKeys<TaskOptions> = { maxRetries: true, timeoutMs: true, priority: true, resources: true, signal: true, submitter: true }
const SESSION_KEYS: KnownKeys<SessionOptions> = { maxRetries: true, timeoutMs: true, priority: true, name: true }

/**
 * A task's or a session's options as `node.submit`, `node.session` and `session.submit` are given them,
 * checked by the rules the tasks protocol and the CLI apply (checks/values.ts): a NaN priority would
 * break the queue's order, a negative timeout fire at once; a misspelt key (`timout`) is refused, not
 * ignored. Throws ConfigError naming the option.
 */
export function checkTaskOptions (what: 'task' | 'session', options: TaskOptions | SessionOptions): void {
  if (what === 'task') {
    checkKnownKeys(what, options, TASK_KEYS)
    // both were met only once the task's pool was made or its signal listened to: a task failed later, or a TypeError
    checkResources('task.resources', options.resources)
    checkOptional('task.signal', abortSignal, options.signal)
  } else checkKnownKeys(what, options, SESSION_KEYS)
  checkOptional(`${what}.priority`, taskPriority, options.priority)
  checkOptional(`${what}.maxRetries`, taskRetries, options.maxRetries)
  checkOptional(`${what}.timeoutMs`, taskTimeoutMs, options.timeoutMs)
}

/** A task module as callers give it: at the call, since String(5) would be queued as the path "5" and fail only once its pool looked for the file. */
export function checkModuleArgument (module: unknown): asserts module is string | URL {
  if ((typeof module !== 'string' || module === '') && !(module instanceof URL)) throw new ConfigError('module', `must be a path, a file URL or a registered task name, got ${shown(module)}`)
  // another scheme's URL was read as a relative path (<cwd>/http:/host/x.ts) and failed later as the task's own error
  if (module instanceof URL && module.protocol !== 'file:') throw new ConfigError('module', `must be a path, a file URL or a registered task name, got the ${module.protocol} URL ${module.href}`)
  // and so was the same URL given as a string
  const scheme = typeof module === 'string' ? /^([a-z][a-z0-9+.-]+):\/\//i.exec(module)?.[1] : undefined
  if (scheme != null && scheme.toLowerCase() !== 'file') throw new ConfigError('module', `must be a path, a file URL or a registered task name, got the ${scheme}: URL ${module as string}`)
}
