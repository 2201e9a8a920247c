import { describe, it, expect, vi, afterEach } from 'vitest'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { guarded } from '../../../src/trust/guard.ts'
import { trustEveryone } from '../trust-stub.ts'

const PEER = peerIdFromString('12D3KooWQtLvNbMz3hL5w1k8HJgNmv5kZuqEU8nB4WAL8V2uvCmx')

describe('a guarded handler with deadlineMs', () => {
  afterEach(() => { vi.useRealTimers() })

  it('aborts a stream whose handler is still waiting at the deadline (a stalled peer), and not before', async () => {
    vi.useFakeTimers()
    const abort = vi.fn()
    const stream = { abort } as unknown as Stream
    // a handler stuck on a read that never completes
    const handler = guarded(trustEveryone(), '/test/1.0.0', ['member'], async () => await new Promise(() => {}), { deadlineMs: 10_000 })
    void handler(stream, { remotePeer: PEER } as unknown as Connection)
    await vi.advanceTimersByTimeAsync(9_999)
    expect(abort).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(abort).toHaveBeenCalledTimes(1)
    expect((abort.mock.calls[0]?.[0] as Error).message).toMatch(/still open after 10000 ms/)
  })

  it('leaves a stream that finished in time alone (its timer is cleared)', async () => {
    vi.useFakeTimers()
    const abort = vi.fn()
    const handler = guarded(trustEveryone(), '/test/1.0.0', ['member'], async () => {}, { deadlineMs: 10_000 })
    await handler({ abort } as unknown as Stream, { remotePeer: PEER } as unknown as Connection)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(abort).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
  })
})
