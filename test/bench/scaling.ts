/**
 * `npm run bench:scaling`: the CPU-bound primes stage with 1 and with 2
 * workers on this 2-core machine, same items, measured in the same run.
 * Items are ~25 ms of CPU each, so the owner's own dispatching is noise.
 * Prints items/s for each and the ratio (target >= 1.8).
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { table } from './lib.ts'

const ITEMS = Number(process.argv.find(a => a.startsWith('--items='))?.slice(8) ?? 120)
const REPEATS = 3
const STAGE = fileURLToPath(new URL('../../examples/primes/count-primes.mjs', import.meta.url))

const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 2, cpu: 2 }, logger: pino({ level: 'silent' }) })
try {
  async function throughput (workers: number): Promise<number> {
    const items = Array.from({ length: ITEMS }, (_, id) => ({ id, limit: 400_000 }))
    const run = node.pipeline(`scaling-${workers}`, {
      source: items,
      stages: [{ name: 'primes', module: STAGE, minWorkers: workers, maxWorkers: workers }],
      sink: () => {},
      equalize: false
    })
    const t0 = performance.now()
    const summary = await run.done
    if (summary.out !== ITEMS) throw new Error(`expected ${ITEMS} results, got ${summary.out}`)
    return ITEMS / ((performance.now() - t0) / 1000)
  }
  // alternate 1 and 2 so drift in machine load hits both alike; report the medians
  const one: number[] = []
  const two: number[] = []
  for (let i = 0; i < REPEATS; i++) {
    one.push(await throughput(1))
    two.push(await throughput(2))
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const result = { items: ITEMS, repeats: REPEATS, oneWorkerItemsPerS: Math.round(median(one)), twoWorkersItemsPerS: Math.round(median(two)), ratio: Math.round(median(two) / median(one) * 100) / 100, target: 1.8 }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.stdout.write(table(['workers', 'items/s (median of 3)'], [['1', String(result.oneWorkerItemsPerS)], ['2', String(result.twoWorkersItemsPerS)], ['ratio', `${result.ratio} (target >= 1.8: ${result.ratio >= 1.8 ? 'pass' : 'FAIL'})`]]))
} finally {
  await node.stop()
}
