import type { Readable } from 'node:stream'

/** What V8 writes to stderr right before it aborts a process whose JS heap reached --max-old-space-size. */
const HEAP_FULL = 'JavaScript heap out of memory'
/** How long an aborted worker's stderr is read on for that line: it may still be in the pipe at its exit. */
const PIPE_END_WAIT_MS = 250

/**
 * Watches a worker's stderr for V8's heap-out-of-memory line, so an abort (SIGABRT) for a full heap can be
 * reported as the memory limit it is rather than as a bare signal. `seen()`, after the exit: whether the
 * line came, once the pipe ended (or PIPE_END_WAIT_MS passed).
 */
export function watchHeapExhausted (stderr: Readable | null): { seen: () => Promise<boolean> } {
  let full = false
  // the last bytes of the chunk before, so a line split between two reads is still found
  let tail = ''
  stderr?.on('data', (chunk: Buffer | string) => {
    if (full) return
    const text = tail + chunk.toString()
    full = text.includes(HEAP_FULL)
    tail = text.slice(-HEAP_FULL.length)
  })
  return {
    seen: async () => {
      if (full || stderr == null || stderr.readableEnded || stderr.destroyed) return full
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(timer); stderr.off('close', done); resolve() }
        const timer = setTimeout(done, PIPE_END_WAIT_MS)
        stderr.once('close', done)
      })
      return full
    }
  }
}
