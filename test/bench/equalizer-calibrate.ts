/**
 * The yardstick bench:equalizer judges the equalizer by: one worker's rate
 * for a stage and item, measured with that stage alone on exactly one worker
 * (equalizer off), kept busy for `seconds`. Independent of the equalizer's
 * own estimate, which it could never disagree with.
 */
import type { GridNode } from '../../src/node.ts'
import { sleep } from './lib.ts'

/** Items kept in flight (queued + in the worker's window): enough that the worker never waits for the owner. */
const AHEAD = 32

/** Items per second one worker completes, timed from its first result to its last (the spawn excluded). */
export async function calibrate (node: GridNode, module: string, item: Record<string, unknown>, seconds: number): Promise<number> {
  let sent = 0
  let received = 0
  let first = 0
  let last = 0
  const deadline = performance.now() + seconds * 1000
  async function * source (): AsyncGenerator<Record<string, unknown>> {
    // bounded both ways: stop at the deadline, and never more than AHEAD unfinished
    while (performance.now() < deadline || received === 0) {
      while (sent - received >= AHEAD) await sleep(1)
      yield { ...item, id: sent++, sent: performance.now() }
    }
  }
  const run = node.pipeline(`calibrate-${Date.now()}`, {
    source: source(),
    stages: [{ name: 'alone', module, minWorkers: 1, maxWorkers: 1 }],
    sink: () => {
      const now = performance.now()
      if (received++ === 0) first = now
      last = now
    },
    equalize: false
  })
  const summary = await run.done
  if (summary.failed > 0) throw new Error(`calibration of ${module}: ${summary.failed} items failed`)
  if (received < 3) throw new Error(`calibration of ${module}: only ${received} results in ${seconds} s`)
  return (received - 1) / ((last - first) / 1000)
}
