import { describe, it, expect } from 'vitest'
import { RefusalLog, remoteHost } from '../../../src/transport/mtls/refusal-log.ts'
import type { Logger } from '../../../src/logger.ts'

describe('RefusalLog', () => {
  it('logs a refusal once a minute per host and reason, then says how many it held back', () => {
    const lines: Array<{ fields: Record<string, unknown>, msg: string }> = []
    const log = { warn: (fields: Record<string, unknown>, msg: string) => { lines.push({ fields, msg }) } } as unknown as Logger
    const refusals = new RefusalLog(log)
    for (let i = 0; i < 50; i++) refusals.warn('/ip4/10.0.0.9', 'revoked', { reason: 'revoked' }, 'refused', 1000 + i * 10)
    refusals.warn('/ip4/10.0.0.9', 'expired', { reason: 'expired' }, 'refused', 1500)
    refusals.warn('/ip4/10.0.0.8', 'revoked', { reason: 'revoked' }, 'refused', 1500)
    expect(lines.length).toBe(3)
    refusals.warn('/ip4/10.0.0.9', 'revoked', { reason: 'revoked' }, 'refused', 61_001)
    expect(lines.length).toBe(4)
    expect(lines[3]!.fields.refusedSinceLastLine).toBe(49)
  })

  it('keys on the host, not the ephemeral port', () => {
    expect(remoteHost('/ip4/127.0.0.1/tcp/40123')).toBe('/ip4/127.0.0.1')
    expect(remoteHost('unknown')).toBe('unknown')
  })
})
