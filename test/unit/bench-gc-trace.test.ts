import { describe, it, expect } from 'vitest'
import { lastFullGc } from '../bench/deploy-endless.ts'
import type { LogLine } from '../integration/helpers/grid-process.ts'

// lines as `node --trace-gc --trace-gc-ignore-scavenger` prints them (Node 24), among a grid node's JSON log
const line = (msg: string): LogLine => ({ level: 0, msg })
const LINES = [
  line('[17064:0x37d10000]     1144 ms: Mark-Compact 42.7 (95.8) -> 36.7 (101.7) MB, pooled: 0 MB, 62.13 / 0.00 ms  (+ 43.8 ms in 38 steps since start of marking) (average mu = 0.897, current mu = 0.901) finalize incremental marking via stack guard; GC in old space requested'),
  { level: 30, msg: 'deployment run started' },
  line('[4875:0x1c2a0000]   326870 ms: Mark-Compact (reduce) 17.8 (37.2) -> 17.1 (20.2) MB, pooled: 0 MB, 21.02 / 0.00 ms  (average mu = 0.981, current mu = 0.964) heap snapshot; GC in old space requested'),
  line('[4875:0x1c2a0000]   326990 ms: Scavenge 18.1 (20.2) -> 17.4 (20.2) MB, pooled: 0 MB, 0.61 / 0.00 ms')
]

describe('bench:deploy --endless reads the owner\'s heap from its --trace-gc lines', () => {
  it('the last full collection since a line: the heap in use after it and what stayed committed (scavenges ignored)', () => {
    expect(lastFullGc(LINES, 0)).toEqual({ usedMb: 17.1, committedMb: 20.2 })
    expect(lastFullGc(LINES.slice(0, 2), 0)).toEqual({ usedMb: 36.7, committedMb: 101.7 })
  })

  it('none since the line: undefined, not an older window\'s', () => {
    expect(lastFullGc(LINES, 3)).toBeUndefined()
    expect(lastFullGc([], 0)).toBeUndefined()
  })
})
