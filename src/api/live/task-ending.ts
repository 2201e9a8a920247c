import type { Task } from '../../tasks/task.ts'

/** A final task's last event: `result` with its value, or `error` with its status and error. */
export function taskEnding (task: Task): { type: 'result' | 'error', data: Record<string, unknown> } {
  if (task.status === 'completed') return { type: 'result', data: { task: task.id, value: task.value ?? null } }
  return { type: 'error', data: { task: task.id, status: task.status, error: task.error ?? { name: 'Error', message: `task ended ${task.status}` } } }
}
