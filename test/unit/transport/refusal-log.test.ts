import { describe, it, expect } from 'vitest'
import { MAX_KEYS, MAX_LINES_PER_WINDOW, RefusalLog, remoteHost } from '../../../src/transport/mtls/refusal-log.ts'
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

  it('full of hosts, forgets the oldest, so a host refused just now stays rate-limited', () => {
    const lines: Array<{ fields: Record<string, unknown>, msg: string }> = []
    const log = { warn: (fields: Record<string, unknown>, msg: string) => { lines.push({ fields, msg }) } } as unknown as Logger
    const refusals = new RefusalLog(log)
    expect(MAX_KEYS).toBeGreaterThan(MAX_LINES_PER_WINDOW)
    for (let i = 0; i < MAX_KEYS - 1; i++) refusals.warn(`/ip4/10.1.${i >> 8}.${i & 255}`, 'expired', {}, 'old', 0)
    // a minute later (a fresh line budget): the recent host logs once, more hosts come, it stays quiet
    refusals.warn('/ip4/10.0.0.9', 'revoked', { host: 'recent' }, 'recent', 61_000)
    for (let i = 0; i < 10; i++) refusals.warn(`/ip4/10.2.0.${i}`, 'expired', {}, 'new', 61_001 + i)
    refusals.warn('/ip4/10.0.0.9', 'revoked', { host: 'recent' }, 'recent', 61_100)
    expect(lines.filter(l => l.msg === 'recent')).toHaveLength(1)
  })

  it('logs at most MAX_LINES_PER_WINDOW lines a minute from all hosts together, then says how many it held back', () => {
    const lines: Array<{ fields: Record<string, unknown>, msg: string }> = []
    const log = { warn: (fields: Record<string, unknown>, msg: string) => { lines.push({ fields, msg }) } } as unknown as Logger
    const refusals = new RefusalLog(log)
    for (let i = 0; i < 1000; i++) refusals.warn(`/ip6/2001:db8::${i.toString(16)}`, 'no-handshake', {}, 'refused', 1000 + i)
    expect(lines).toHaveLength(MAX_LINES_PER_WINDOW)
    refusals.warn('/ip4/10.0.0.1', 'no-handshake', {}, 'refused', 70_000)
    expect(lines).toHaveLength(MAX_LINES_PER_WINDOW + 2)
    expect(lines[MAX_LINES_PER_WINDOW]!.fields.heldBack).toBe(1000 - MAX_LINES_PER_WINDOW)
    expect(lines[MAX_LINES_PER_WINDOW + 1]!.msg).toBe('refused')
  })

  it('keys on the host, not the ephemeral port', () => {
    expect(remoteHost('/ip4/127.0.0.1/tcp/40123')).toBe('/ip4/127.0.0.1')
    expect(remoteHost('unknown')).toBe('unknown')
  })
})
