import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridFixture, memberEvent, lastState } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { waitPortFree } from './helpers/ports.ts'

describe('membership across real grid node processes', () => {
  let grid: GridFixture
  let nodes: GridProcess[]

  beforeAll(async () => {
    grid = await GridFixture.create(6)
    // chain join: each node only knows the one before it
    nodes = []
    for (let i = 1; i <= 5; i++) {
      nodes.push(await grid.start(`n${i}`, i === 1 ? [] : ['--peer', nodes[i - 2]!.address]))
    }
    // every test below starts from a converged grid, whichever runs first
    for (const node of nodes) await eventually(async () => (await grid.status(node)).members.filter(m => m.state === 'alive').length === 4 ? true : undefined)
  })

  afterAll(async () => { await grid.close() })

  const others = (node: GridProcess): GridProcess[] => nodes.filter(n => n !== node && n.proc.exitCode === null && n.proc.signalCode === null)

  it('a chain join of 5 converges: every node lists the 4 others alive, never itself', async () => {
    for (const node of nodes) {
      const status = await eventually(async () => {
        const s = await grid.status(node)
        return s.members.filter(m => m.state === 'alive').length === 4 ? s : undefined
      })
      expect(status.self.id).toBe(node.peerId)
      expect(status.members.map(m => m.id)).not.toContain(node.peerId)
      expect(status.members.map(m => m.id).sort()).toEqual(nodes.filter(n => n !== node).map(n => n.peerId).sort())
    }
  })

  it('SIGKILL of the first seed: the other 4 stay connected to each other and list it failed', async () => {
    const seed = nodes[0]!
    const marks = new Map(others(seed).map(n => [n, n.mark()]))
    await seed.stop('SIGKILL')
    for (const node of others(seed)) await node.waitFor(memberEvent('member:fail', seed.peerId), 10_000, marks.get(node))
    for (const node of others(seed)) {
      const status = await grid.status(node)
      expect(status.members.find(m => m.id === seed.peerId)?.state).toBe('failed')
      expect(status.members.filter(m => m.state === 'alive').map(m => m.id).sort()).toEqual(others(node).filter(n => n !== seed).map(n => n.peerId).sort())
    }
    nodes = nodes.filter(n => n !== seed)
  })

  it('SIGKILL of a member: all others list it failed; restarted with the same key it is alive with a higher incarnation', async () => {
    const victim = nodes[1]!
    const before = (await grid.status(nodes[0]!)).members.find(m => m.id === victim.peerId)!
    const port = victim.port
    const failMarks = new Map(others(victim).map(n => [n, n.mark()]))
    await victim.stop('SIGKILL')
    for (const node of others(victim)) await node.waitFor(memberEvent('member:fail', victim.peerId), 10_000, failMarks.get(node))
    // the same address as before: only once the killed process's listener is really gone
    await waitPortFree(port)
    const rejoinMarks = new Map(others(victim).map(n => [n, n.mark()]))
    const restarted = await grid.start('n3', ['--port', String(port), '--peer', nodes[0]!.address])
    expect(restarted.peerId).toBe(victim.peerId)
    nodes = nodes.map(n => n === victim ? restarted : n)
    for (const node of others(restarted)) await node.waitFor(memberEvent('member:rejoin', victim.peerId), 10_000, rejoinMarks.get(node))
    const after = (await grid.status(nodes[0]!)).members.find(m => m.id === victim.peerId)!
    expect(after.state).toBe('alive')
    expect(after.incarnation).toBeGreaterThan(before.incarnation)
  })

  it('SIGSTOP of a member: suspect, then failed; SIGCONT: alive again', async () => {
    const paused = nodes[2]!
    const observers = others(paused)
    const marks = new Map(observers.map(n => [n, n.mark()]))
    paused.proc.kill('SIGSTOP')
    try {
      for (const node of observers) await node.waitFor(memberEvent('member:suspect', paused.peerId), 10_000, marks.get(node))
      for (const node of observers) await node.waitFor(memberEvent('member:fail', paused.peerId), 10_000, marks.get(node))
    } finally {
      paused.proc.kill('SIGCONT')
    }
    for (const node of observers) await eventually(() => lastState(node, paused.peerId) === 'alive' ? true : undefined, 20_000)
    const status = await grid.status(observers[0]!)
    expect(status.members.find(m => m.id === paused.peerId)?.state).toBe('alive')
  })

  it('SIGTERM of a member: the others list it left, not failed', async () => {
    const leaving = nodes[3]!
    const observers = others(leaving)
    const marks = observers.map(n => n.mark())
    expect(await leaving.stop('SIGTERM')).toBe(0)
    for (const [i, node] of observers.entries()) await node.waitFor(memberEvent('member:leave', leaving.peerId), 10_000, marks[i])
    // a wrong "failed" would come from missed heartbeats: suspect after 600 ms, failed at most 600 ms later
    // (heartbeat 200 ms); 3 s is well past both, even on a loaded machine
    await new Promise(resolve => setTimeout(resolve, 3000))
    observers.forEach((node, i) => { expect(node.lines.slice(marks[i]).filter(memberEvent('member:fail', leaving.peerId))).toEqual([]) })
    const status = await grid.status(observers[0]!)
    expect(status.members.find(m => m.id === leaving.peerId)?.state).toBe('left')
  })
})
