/**
 * `npm run bench:scaling`: the CPU-bound primes stage with 1 and with 2
 * workers on this node, same items, measured in the same run (alternated, so
 * drift in the machine's load hits both alike; medians of 3).
 * Items are ~25 ms of CPU each, so the owner's own dispatching is noise; the
 * clock starts once the workers are up.
 * Target: 2 workers >= 1.8x one (on a 2-core machine).
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { runBench } from './report.ts'

const REPEATS = 3
const STAGE = fileURLToPath(new URL('../../examples/primes/count-primes.mjs', import.meta.url))

await runBench('scaling', ['--items'], async (args, defer) => {
  const items = Math.max(10, Math.round(args.number('--items', args.quick ? 100 : 160)))
  const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 2, cpu: 2 }, logger: pino({ level: 'silent' }) })
  defer(async () => { await node.stop() })
  // the clock starts once the workers are up (spawning is bench:spawn's figure, not this one's)
  async function throughput (workers: number): Promise<number> {
    const run = node.pipeline(`scaling-${workers}`, {
      stages: [{ name: 'primes', module: STAGE, minWorkers: workers, maxWorkers: workers }],
      sink: () => {},
      equalize: false
    })
    for (const deadline = Date.now() + 30_000; run.stats().stages[0]!.workers < workers;) {
      if (Date.now() > deadline) throw new Error(`${workers} workers not up after 30 s`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    const t0 = performance.now()
    for (let id = 0; id < items; id++) await run.push({ id, limit: 400_000 })
    run.end()
    const summary = await run.done
    if (summary.out !== items) throw new Error(`expected ${items} results, got ${summary.out}`)
    return items / ((performance.now() - t0) / 1000)
  }
  const one: number[] = []
  const two: number[] = []
  for (let i = 0; i < REPEATS; i++) {
    one.push(await throughput(1))
    two.push(await throughput(2))
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return {
    figures: {
      ratio: { value: Math.round(median(two) / median(one) * 100) / 100, unit: '×', label: '2 workers / 1' },
      oneWorkerItemsPerS: { value: Math.round(median(one)), unit: 'items/s', label: '1 worker' },
      twoWorkersItemsPerS: { value: Math.round(median(two)), unit: 'items/s', label: '2 workers' }
    },
    targets: [{ figure: 'ratio', comparator: '>=', bound: 1.8 }],
    rows: [{ what: 'CPU-bound stage (primes), 2 workers vs 1 on one node, same run', figures: ['ratio', 'oneWorkerItemsPerS', 'twoWorkersItemsPerS'], note: `${items} items, medians of ${REPEATS}, alternated` }],
    details: { items, repeats: REPEATS, oneWorker: one.map(Math.round), twoWorkers: two.map(Math.round) }
  }
})
