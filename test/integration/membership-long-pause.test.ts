import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridFixture, memberEvent, lastState } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'

// libp2p forgets a peer after ~5 redials over ~30 s; gridd's reconnect loop must outlast that
const PAUSE_MS = 45_000

describe('a member paused longer than libp2p\'s own retry window', () => {
  let grid: GridFixture
  let nodes: GridProcess[]

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    nodes = [await grid.start('n1')]
    nodes.push(await grid.start('n2', ['--peer', nodes[0]!.address]))
    nodes.push(await grid.start('n3', ['--peer', nodes[0]!.address]))
    for (const node of nodes) await eventually(async () => (await grid.status(node)).members.filter(m => m.state === 'alive').length === 2 ? true : undefined)
  })

  afterAll(async () => { await grid.close() })

  it(`merges back by itself after a ${PAUSE_MS / 1000} s SIGSTOP`, async () => {
    const [a, b, paused] = nodes as [GridProcess, GridProcess, GridProcess]
    const marks = [a.mark(), b.mark()]
    paused.proc.kill('SIGSTOP')
    try {
      for (const [i, node] of [a, b].entries()) await node.waitFor(memberEvent('member:fail', paused.peerId), 10_000, marks[i])
      await new Promise(resolve => setTimeout(resolve, PAUSE_MS))
    } finally {
      paused.proc.kill('SIGCONT')
    }
    for (const node of [a, b]) await eventually(() => lastState(node, paused.peerId) === 'alive' ? true : undefined, 30_000)
    // and the paused node sees the grid again too
    const status = await eventually(async () => {
      const s = await grid.status(paused)
      return s.members.filter(m => m.state === 'alive').length === 2 ? s : undefined
    }, 30_000)
    expect(status.members.map(m => m.id).sort()).toEqual([a.peerId, b.peerId].sort())
  }, 120_000)
})
