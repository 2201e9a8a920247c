/** The longest `ctx.log` line that travels; longer ones are cut (in the worker, and again on the agent). */
export const MAX_TASK_LOG_LINE = 4096

/** Lines a task may log per second; the rest are dropped and counted. */
export const MAX_TASK_LOG_LINES_PER_SECOND = 100

/** A log line as it may travel: a string, at most MAX_TASK_LOG_LINE characters. */
export function boundedLogLine (line: unknown): string {
  const text = typeof line === 'string' ? line : String(line)
  return text.length <= MAX_TASK_LOG_LINE ? text : `${text.slice(0, MAX_TASK_LOG_LINE - 1)}…`
}
