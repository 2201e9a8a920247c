import type { Task } from '../../tasks/task.ts'

/**
 * A final task's last event: `result` with its value, or `error` with its status and error as the API
 * shows it (name, message, code: as GET /v1/tasks/:id, never the stack, which names paths on the
 * worker's machine).
 */
export function taskEnding (task: Task): { type: 'result' | 'error', data: Record<string, unknown> } {
  if (task.status === 'completed') return { type: 'result', data: { task: task.id, value: task.value ?? null } }
  const error = task.error ?? { name: 'Error', message: `task ended ${task.status}` }
  const shown = error.code == null ? { name: error.name, message: error.message } : { name: error.name, message: error.message, code: error.code }
  return { type: 'error', data: { task: task.id, status: task.status, error: shown } }
}
