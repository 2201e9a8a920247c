import { describe, it, expect, vi, afterEach } from 'vitest'
import { CredentialStreams } from '../../../src/api/auth/credential-streams.ts'
import type { CredentialRefusal, Principal } from '../../../src/api/auth/scopes.ts'

const DAY_MS = 86_400_000
const START = Date.UTC(2030, 0, 1)

/** A token's principal whose `exp` is `inMs` after START, the verifier's 5 s of skew after it. */
function tokenHolder (inMs: number): Principal {
  const exp = (START + inMs) / 1000
  return { subject: 'brief', scopes: new Set(['tasks:read']), token: { exp, validThrough: (exp + 5) * 1000 - 1 } }
}

describe('CredentialStreams: one timer per stream a token holds', () => {
  afterEach(() => { vi.useRealTimers() })

  it('ends a stream at its token\'s expiry 30 days on (past the longest timer Node sets: re-armed, not early), leaving no timer', () => {
    vi.useFakeTimers({ now: START })
    const streams = new CredentialStreams(() => false)
    const ended: CredentialRefusal[] = []
    streams.hold(tokenHolder(30 * DAY_MS), refused => ended.push(refused))
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(30 * DAY_MS + 4999)
    expect(ended).toEqual([])
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(1)
    expect(ended).toMatchObject([{ credential: 'token', reason: 'expired' }])
    expect(ended[0]!.detail).toBe(`this bearer token expired at ${new Date(START + 30 * DAY_MS).toISOString()}`)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('forgets a stream that ended on its own (its timer cleared), ends one already expired at once, and holds no principal without a credential', () => {
    vi.useFakeTimers({ now: START })
    const streams = new CredentialStreams(() => false)
    const end = vi.fn()
    const release = streams.hold(tokenHolder(60_000), end)
    release()
    expect(vi.getTimerCount()).toBe(0)
    streams.hold(tokenHolder(-6000), end)
    expect(end).toHaveBeenCalledTimes(1)
    streams.hold({ subject: 'hook:build', scopes: new Set() }, end)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(365 * DAY_MS)
    expect(end).toHaveBeenCalledTimes(1)
  })
})
