/**
 * A complete small add-on: it serves its own protocol, `/example/hello/1.0.0`,
 * answering with a greeting and how many members this node sees alive, and
 * logs every member that joins. It admits the `client` certificate (the CLI's)
 * besides members and admins: it only reads what `grid status` shows any
 * certificate, and changes nothing. An add-on protocol that writes, runs code
 * or spends a node's resources keeps the default (members only). Load it into any node:
 *   npx grid node --dev --addon 'examples/addon/hello-addon.ts:{"greeting":"hi"}'
 */
import { defineAddon } from '../../src/index.ts'

export const PROTOCOL = '/example/hello/1.0.0'

interface HelloOptions {
  greeting?: string
}

export default defineAddon<HelloOptions>({
  name: 'hello',
  async start (ctx, options) {
    const greeting = options.greeting ?? 'hello'
    ctx.on('member:join', member => { ctx.log.info({ member: member.id }, `${greeting}, new member`) })
    await ctx.handle(PROTOCOL, (request, from) => {
      const name = typeof (request as { name?: unknown })?.name === 'string' ? (request as { name: string }).name : from
      const alive = ctx.members().filter(m => m.state === 'alive').length
      return { message: `${greeting}, ${name}`, membersAlive: alive, from: ctx.peerId }
    }, undefined, { roles: ['client', 'member', 'admin'] })
    ctx.log.info({ protocol: PROTOCOL }, 'hello add-on serving')
  }
})
