/** An item sent to a worker (or held back) and not yet answered, with its task callbacks. */
export interface PendingItem {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  onStart?: () => void
  onProgress?: (value: unknown) => void
  onLog?: (line: string) => void
  /** Stops listening to the item's abort signal. */
  cleanup?: () => void
}

/**
 * A task notice or outcome for a pending item: a notice calls its callback and
 * leaves it pending; an outcome settles it. Returns whether it was an outcome
 * for an item still pending.
 */
export function deliver (pending: Map<number, PendingItem>, id: number, output: { notice: 'started' } | { notice: 'progress', value: unknown } | { notice: 'log', line: string } | { error: Error } | { value?: unknown }): boolean {
  const p = pending.get(id)
  if (p == null) return false
  if ('notice' in output) {
    if (output.notice === 'started') p.onStart?.()
    else if (output.notice === 'progress') p.onProgress?.(output.value)
    else p.onLog?.(output.line)
    return false
  }
  pending.delete(id)
  p.cleanup?.()
  if ('error' in output) p.reject(output.error)
  else p.resolve(output.value)
  return true
}
