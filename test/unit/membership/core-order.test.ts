import { describe, it, expect } from 'vitest'
import { MembershipCore } from '../../../src/membership/core.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import type { Heartbeat } from '../../../src/membership/schema.ts'
import { entry } from './entry.ts'

const NOW = 1_800_000_000_000

describe('MembershipCore: heartbeats out of order', () => {
  it('a watcher\'s suspicion that arrives after its retraction still reaches the suspect, which refutes; the same heartbeat again is a replay', () => {
    const rejected: string[] = []
    const core = new MembershipCore(resolveMembershipConfig({}), entry('me', { incarnation: NOW }), 0, { reject: (_p, reason) => { rejected.push(reason) }, certify: e => e, wallNow: () => NOW + 5000 })
    const heartbeat = (seq: number, suspects: Heartbeat['suspects']): Heartbeat => ({ v: 1, seq, member: entry('w', { incarnation: NOW }), suspects, hears: [] })
    core.onHeartbeat(heartbeat(1, []), 'w', 0)
    // the watcher suspected us (seq 2) and a moment later heard us again (seq 3): gossip delivered 3 first
    const claim = heartbeat(2, [{ id: 'me', incarnation: NOW, state: 'suspect' }])
    expect(core.onHeartbeat(heartbeat(3, []), 'w', 10).publish).toBe(false)
    expect(core.onHeartbeat(claim, 'w', 11).publish).toBe(true)
    expect(core.entry().incarnation).toBeGreaterThan(NOW)
    expect(rejected).toEqual([])
    core.onHeartbeat(claim, 'w', 12)
    expect(rejected).toEqual(['replay'])
  })
})
