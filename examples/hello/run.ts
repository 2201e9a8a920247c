/**
 * The smallest pipeline: words in, upper-cased words out, through a worker
 * process on this node (it is its own agent). `npm run example:hello`
 */
import { GridNode } from '../../src/index.ts'

const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 2 } })
const run = node.pipeline('hello', {
  source: ['hello', 'grid', 'of', 'workers'],
  stages: [{ name: 'upper', module: new URL('./upper.ts', import.meta.url).pathname }],
  sink: (word) => { console.log(word) }
})
console.log(await run.done)
await node.stop()
