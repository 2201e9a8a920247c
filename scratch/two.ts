import { GridNode } from '../src/node.ts'
import { pino } from 'pino'
const log = pino({ level: 'info' })
const a = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, heartbeatMs: 200, logger: log.child({ n: 'a' }) })
const b = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, heartbeatMs: 200, peers: [a.addresses[0]!], logger: log.child({ n: 'b' }) })
for (let i = 0; i < 6; i++) {
  await new Promise(r => setTimeout(r, 1000))
  console.log(JSON.stringify(a.members().map(m => [m.state, m.lastSeenMs])), JSON.stringify(b.members().map(m => [m.state, m.lastSeenMs])))
}
await a.stop(); await b.stop()
