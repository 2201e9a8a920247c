/**
 * A CPU-bound stage whose input rate steps up and down, printing the stage's
 * workers, rates and pressure each second: watch the equalizer follow.
 * `npm run example:primes [-- --peer host:port]`
 */
import { GridNode } from '../../src/index.ts'

const peer = process.argv.indexOf('--peer')
const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 4 }, peers: peer > 0 ? [process.argv[peer + 1]!] : [] })
// items per second offered, phase by phase
const phases = [{ rate: 20, seconds: 6 }, { rate: 200, seconds: 8 }, { rate: 20, seconds: 12 }]

async function * source (): AsyncGenerator<{ id: number, limit: number }> {
  let id = 0
  for (const phase of phases) {
    const end = Date.now() + phase.seconds * 1000
    while (Date.now() < end) {
      yield { id: id++, limit: 20_000 }
      await new Promise(resolve => setTimeout(resolve, 1000 / phase.rate))
    }
  }
}

let results = 0
const run = node.pipeline('primes', {
  source: source(),
  stages: [{ name: 'count-primes', module: new URL('./count-primes.mjs', import.meta.url).pathname, minWorkers: 1, maxWorkers: 4 }],
  sink: () => { results++ },
  equalizeMs: 1000,
  scaleDownAfterMs: 4000
})
run.on('stage:scaled', e => { console.log(`scaled ${e.stage}: ${e.delta > 0 ? '+' : ''}${e.delta} -> ${e.workers} (${e.reason})`) })
const view = setInterval(() => {
  for (const s of run.stats().stages) console.log(`${s.name}: workers ${s.workers} arrival ${s.arrivalRate}/s processing ${s.processingRate}/s per worker queued ${s.queued} in flight ${s.inFlight} pressure ${s.pressure} | results ${results}`)
}, 1000)
console.log(await run.done)
clearInterval(view)
await node.stop()
