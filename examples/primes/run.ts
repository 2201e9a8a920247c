/**
 * A CPU-bound stage whose input rate steps up and down, printing the stage's
 * workers, rates and pressure each second: watch the equalizer follow.
 * `npm run example:primes [-- --peer host:port]`
 */
import { GridNode } from '../../src/index.ts'
import { PHASES, primesSource } from './source.ts'

const peer = process.argv.indexOf('--peer')
const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 4 }, peers: peer > 0 ? [process.argv[peer + 1]!] : [] })

let results = 0
const run = node.pipeline('primes', {
  source: primesSource(PHASES, phase => { console.log(`-- ${phase.label}`) }),
  stages: [{ name: 'count-primes', module: new URL('./count-primes.mjs', import.meta.url).pathname, minWorkers: 1, maxWorkers: 4 }],
  sink: () => { results++ },
  scaleDownAfterMs: 4000
})
run.on('stage:scaled', e => { console.log(`scaled ${e.stage}: ${e.delta > 0 ? '+' : ''}${e.delta} -> ${e.workers} (${e.reason})`) })
const view = setInterval(() => {
  for (const s of run.stats().stages) console.log(`${s.name}: workers ${s.workers} arrival ${s.arrivalRate}/s processing ${s.processingRate}/s per worker queued ${s.queued} in flight ${s.inFlight} pressure ${s.pressure} | results ${results}`)
}, 1000)
console.log(await run.done)
clearInterval(view)
await node.stop()
