import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridFixture, memberEvent } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { GossipObserver } from './helpers/gossip-observer.ts'
import { cleanup } from './helpers/cleanup.ts'

/** Bytes a payload may vary by with no growth at all: counters gain digits, CPU and memory figures change. */
const SLACK = 64

/** DESIGN §10: churn (join/leave/join) must not make gossip payloads grow. */
describe('membership churn: heartbeat and sync payloads do not grow', () => {
  let grid: GridFixture
  let nodes: GridProcess[]
  let observer: GossipObserver

  async function converged (): Promise<void> {
    // each poll starts a `grid status` process, slow on a loaded machine: 8-9 s of the 20 s were seen there
    for (const node of nodes) await eventually(async () => (await grid.status(node)).members.filter(m => m.state === 'alive').length === 2 ? true : undefined, 40_000)
  }

  /**
   * The largest heartbeat each node sent over `ms` from now, once each has sent at least 5. An idle node
   * gossips its heartbeat at the refresh only (3 members × 600 ms, times a jitter in [0.5, 1.5): 0.9-2.7 s),
   * not every 200 ms: its fifth comes ~8 s after `since`, up to ~14 s before timers run late under load.
   */
  async function largestHeartbeats (ms = 2000): Promise<Map<string, number>> {
    const since = Date.now()
    await new Promise(resolve => setTimeout(resolve, ms))
    return await eventually(() => {
      const sizes = new Map(nodes.map(n => [n.peerId, observer.heartbeats.filter(h => h.from === n.peerId && h.at >= since)]))
      if ([...sizes.values()].some(list => list.length < 5)) return undefined
      return new Map([...sizes].map(([id, list]) => [id, Math.max(...list.map(h => h.bytes))]))
    }, 40_000)
  }

  beforeAll(async () => {
    grid = await GridFixture.create(4)
    const first = await grid.start('n1')
    nodes = [first, await grid.start('n2', ['--peer', first.address]), await grid.start('n3', ['--peer', first.address])]
    await converged()
    observer = await GossipObserver.start(grid.dir, 'n4', nodes)
  })

  afterAll(async () => {
    await cleanup(async () => await observer?.stop(), async () => await grid?.close())
  })

  it('after 3 leave/rejoin and 2 kill/rejoin cycles of one member, every payload is the size it was', async () => {
    const [a, b] = nodes as [GridProcess, GridProcess]
    const heartbeatsBefore = await largestHeartbeats()
    const syncBefore = await observer.syncTable(a)
    // the table a joiner gets: the node itself and the two others
    expect(syncBefore.members.map(m => m.id).sort()).toEqual(nodes.map(n => n.peerId).sort())
    expect(syncBefore.members.map(m => m.state)).toEqual(['alive', 'alive', 'alive'])

    for (const how of ['SIGTERM', 'SIGTERM', 'SIGTERM', 'SIGKILL', 'SIGKILL'] as const) {
      const leaving = nodes[2]!
      const marks = [a.mark(), b.mark()]
      await leaving.stop(how)
      const event = how === 'SIGTERM' ? 'member:leave' : 'member:fail'
      for (const [i, node] of [a, b].entries()) await node.waitFor(memberEvent(event, leaving.peerId), 15_000, marks[i])
      // the same key again (a new process on a new port): the same member, rejoining
      const back = await grid.start('n3', ['--peer', a.address])
      expect(back.peerId).toBe(leaving.peerId)
      nodes[2] = back
      for (const [i, node] of [a, b].entries()) await node.waitFor(memberEvent('member:rejoin', back.peerId), 15_000, marks[i])
      await observer.connect([back])
    }
    await converged()
    // once all are alive again nobody suspects anyone: the gossip lists are empty, not a growing history
    await eventually(() => nodes.every(n => { const last = observer.heartbeats.filter(h => h.from === n.peerId).at(-1); return last?.suspects === 0 && last.hears === 0 }) ? true : undefined)

    const heartbeatsAfter = await largestHeartbeats()
    for (const node of nodes) {
      expect(heartbeatsAfter.get(node.peerId), `heartbeat of ${node.peerId}`).toBeLessThanOrEqual(heartbeatsBefore.get(node.peerId)! + SLACK)
    }
    const syncAfter = await observer.syncTable(a)
    // still the same three members (the rejoined one once, alive), and a table no larger than before
    expect(syncAfter.members.map(m => m.id).sort()).toEqual(syncBefore.members.map(m => m.id).sort())
    expect(syncAfter.members.map(m => m.state)).toEqual(['alive', 'alive', 'alive'])
    expect(syncAfter.bytes).toBeLessThanOrEqual(syncBefore.bytes + SLACK)
  }, 120_000)
})
