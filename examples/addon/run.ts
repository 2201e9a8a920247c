/**
 * Two dev nodes in this process; node A uses the hello add-on, node B uses a
 * tiny add-on that calls A's protocol over mTLS and prints the answer. Then A
 * uses the built-in health add-on on a free port (0): `use` resolves to its url.
 * `npm run example:addon`
 */
import { GridNode, defineAddon, healthAddon } from '../../src/index.ts'
import helloAddon, { PROTOCOL } from './hello-addon.ts'

const a = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, addons: [[helloAddon, { greeting: 'hi' }]] })
const b = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, peers: [a.addresses[0]!] })
try {
  await b.use(defineAddon({
    name: 'ask-hello',
    async start (ctx) {
      while (ctx.members().length === 0) await new Promise(resolve => setTimeout(resolve, 50))
      const answer = await ctx.request(a.peerId, PROTOCOL, { name: 'node B' })
      console.log(JSON.stringify(answer))
    }
  }))
  const health = await a.use(healthAddon, { port: 0, alone: false })
  const ready = await (await fetch(`${health.url}/readyz`)).json() as { status: string }
  console.log(`A's health add-on at ${health.url}: ${ready.status}`)
  console.log(`add-ons in use on A: ${a.addonNames().join(', ')}; on B: ${b.addonNames().join(', ')}`)
} finally {
  await b.stop()
  await a.stop()
}
