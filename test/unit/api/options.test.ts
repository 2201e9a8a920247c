import { describe, it, expect } from 'vitest'
import { apiSettings } from '../../../src/api/options.ts'
import type { ApiOptions } from '../../../src/api/options.ts'
import { serveHttp } from '../../../src/addons/http-server.ts'
import { ConfigError } from '../../../src/errors.ts'

function refused (fn: () => unknown): ConfigError {
  try { fn() } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('the built-in add-ons\' numeric options (apiAddon, healthAddon, metricsAddon)', () => {
  // apiSettings took any value and handed it to Fastify and the live hub ('600' as the rate limit, -1 streams)
  it.each(['bodyLimitBytes', 'rateLimit', 'rateWindowMs', 'replayEvents', 'replayTtlMs', 'maxFollowed', 'maxStreams', 'maxStreamsPerSubject',
    'pingMs', 'maxWaitMs', 'maxBufferedBytes', 'hookWindowMs'])('api.%s: a string or a count below 1 is refused, naming it', (key) => {
    expect(refused(() => apiSettings({ port: 0, [key]: '600' } as unknown as ApiOptions)).option).toBe(`api.${key}`)
    expect(refused(() => apiSettings({ port: 0, [key]: -1 } as unknown as ApiOptions)).option).toBe(`api.${key}`)
  })

  it('api: the defaults, and values given, kept', () => {
    expect(apiSettings({ port: 0 })).toMatchObject({ rateLimit: 600, maxStreams: 256, pingMs: 15_000 })
    expect(apiSettings({ port: 0, rateLimit: 3, maxWaitMs: 300 })).toMatchObject({ rateLimit: 3, maxWaitMs: 300 })
  })

  it('an add-on server\'s port given as a string is refused, naming it', async () => {
    const err = await serveHttp('health', (_req, res) => { res.end() }, { port: '0' as never }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ option: 'health port', message: 'health port: must be an integer port from 0 to 65535 (0 picks a free one), got "0"' })
  })
})
