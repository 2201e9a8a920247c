/**
 * Runs every teardown step in order, each even when an earlier one threw (so
 * a failing `node.stop()` never leaves a process behind), then rethrows the
 * first error.
 */
export async function cleanup (...steps: Array<(() => Promise<unknown> | unknown) | undefined>): Promise<void> {
  let first: unknown
  let failed = false
  for (const step of steps) {
    try {
      await step?.()
    } catch (err) {
      if (!failed) first = err
      failed = true
    }
  }
  if (failed) throw first
}
