import { checkOptional } from '../checks/check.ts'
import { taskPriority, taskRetries, taskTimeoutMs } from '../checks/values.ts'
import type { TaskDefaults } from './types.ts'

/**
 * A task's or a session's options as `node.submit`, `node.session` and `session.submit` are given them,
 * checked by the rules the tasks protocol and the CLI apply (checks/values.ts): a NaN priority would
 * break the queue's order, a negative timeout fire at once. Throws ConfigError naming the option.
 */
export function checkTaskOptions (what: 'task' | 'session', options: Partial<TaskDefaults>): void {
  checkOptional(`${what}.priority`, taskPriority, options.priority)
  checkOptional(`${what}.maxRetries`, taskRetries, options.maxRetries)
  checkOptional(`${what}.timeoutMs`, taskTimeoutMs, options.timeoutMs)
}
