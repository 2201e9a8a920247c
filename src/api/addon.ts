import { defineAddon } from '../addons/addon.ts'
import { startApiServer } from './server.ts'
import type { ApiOptions } from './options.ts'

/** The built-in HTTP API as an add-on: `node.use(apiAddon, { port: 8080, jwt: { secretFile } })` or `grid node --api 8080`. */
export const apiAddon = defineAddon<ApiOptions>({
  name: 'api',
  async start (ctx, options) {
    const server = await startApiServer(ctx, options)
    return { url: server.url, stop: server.close }
  }
})
