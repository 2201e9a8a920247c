import { describe, expect, it } from 'vitest'
import { RecentExits } from '../../../src/agent/recent-exits.ts'

describe('RecentExits', () => {
  const exit = { code: 1, signal: null, error: { name: 'Error', code: 'ERR_MODULE_NOT_FOUND', message: 'no such package' } }

  it('tells the peer that spawned a worker how it ended, for a minute, and nobody else', () => {
    let now = 0
    const exits = new RecentExits(() => now)
    exits.record('w1', 'peer-a', exit)
    expect(exits.of('w1', 'peer-a')).toEqual(exit)
    expect(exits.of('w1', 'peer-b')).toBeUndefined()
    expect(exits.of('w2', 'peer-a')).toBeUndefined()
    now = 60_001
    expect(exits.of('w1', 'peer-a')).toBeUndefined()
  })

  it('holds at most 256 exits, forgetting the oldest first', () => {
    const exits = new RecentExits(() => 0)
    for (let i = 0; i < 300; i++) exits.record(`w${i}`, 'peer', exit)
    expect(exits.of('w0', 'peer')).toBeUndefined()
    expect(exits.of('w43', 'peer')).toBeUndefined()
    expect(exits.of('w44', 'peer')).toEqual(exit)
    expect(exits.of('w299', 'peer')).toEqual(exit)
  })
})
