import { defineAddon } from '../addons/addon.ts'
import { startApiServer } from './server.ts'
import type { ApiOptions } from './options.ts'
import { checkKnownKeys } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'

const API_OPTION_KEYS: KnownKeys<ApiOptions> = {
  port: true, host: true, allowedHosts: true, jwt: true, tls: true, hooks: true, bodyLimitBytes: true, rateLimit: true, rateWindowMs: true, replayEvents: true,
  replayTtlMs: true, maxFollowed: true, maxStreams: true, maxStreamsPerSubject: true, maxWaitMs: true, pingMs: true, maxBufferedBytes: true, hookWindowMs: true, schedules: true
}

/** The built-in HTTP API as an add-on: `node.use(apiAddon, { port: 8080, jwt: { secretFile } })` or `grid node --api 8080`. */
export const apiAddon = defineAddon<ApiOptions>({
  name: 'api',
  async start (ctx, options) {
    checkKnownKeys<ApiOptions>('api', options, API_OPTION_KEYS)
    const server = await startApiServer(ctx, options)
    return { url: server.url, stop: server.close }
  }
})
