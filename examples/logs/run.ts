/**
 * A multi-stage ETL: parse (fan-out of lines) -> enrich (TypeScript) ->
 * aggregate in the sink: counts per team and level. `npm run example:logs`
 */
import { GridNode } from '../../src/index.ts'

const here = (file: string): string => new URL(file, import.meta.url).pathname
const services = ['api', 'billing', 'search']
const levels = ['debug', 'info', 'warn', 'error']

function * chunks (count: number, linesPerChunk: number): Generator<string> {
  let n = 0
  for (let c = 0; c < count; c++) {
    const lines: string[] = []
    for (let l = 0; l < linesPerChunk; l++, n++) lines.push(`2026-11-22T00:00:${String(n % 60).padStart(2, '0')}Z ${levels[n % 4]} ${services[n % 3]} request ${n} handled`)
    yield lines.join('\n')
  }
}

const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 4 } })
const totals = new Map<string, number>()
const run = node.pipeline('logs', {
  source: chunks(200, 50),
  stages: [
    { name: 'parse', module: here('./parse.mjs') },
    { name: 'enrich', module: here('./enrich.ts') }
  ],
  sink: (record) => {
    const { team, level } = record as { team: string, level: string }
    totals.set(`${team}/${level}`, (totals.get(`${team}/${level}`) ?? 0) + 1)
  }
})
const summary = await run.done
console.table(Object.fromEntries([...totals].sort()))
console.log(summary)
await node.stop()
