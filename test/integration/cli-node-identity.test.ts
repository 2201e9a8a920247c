import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridFixture, memberEvent } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid, startNode } from './helpers/grid-process.ts'

// `grid channel set|del` default to the `node` certificate (the member role writes), which is also the
// identity of a running node in the grid `grid certs init` makes: the CLI's connection, under that node's
// peer id, must not disturb the node's own connection to the peer it asks
describe('a CLI run holding a running node\'s key', () => {
  let grid: GridFixture
  let a: GridProcess
  let b: GridProcess

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    // A runs with `node` (the default name), as in README's "A real grid on several machines"
    a = await startNode(['--certs', grid.dir, '--heartbeat-ms', '200', '--log-level', 'info'])
    grid.nodes.push(a)
    b = await grid.start('n1', ['--peer', a.address])
    await eventually(async () => (await grid.status(a)).members.some(m => m.id === b.peerId && m.state === 'alive') ? true : undefined)
  })

  afterAll(async () => { await grid?.close() })

  it('`grid channel set` against B with the node certificate: each write reaches A by gossip, and A never suspects B', async () => {
    const since = { a: a.mark(), b: b.mark() }
    for (let i = 1; i <= 5; i++) {
      const set = await runGrid(['channel', 'set', 'cfg', 'k', String(i), '--peer', b.address, '--certs', grid.dir])
      expect(set.code, set.stderr).toBe(0)
      // gossip takes ~0.2 s here; 5 s is generous yet below the 10 s snapshot exchange that would also carry it
      await eventually(async () => {
        const got = await runGrid(['channel', 'get', 'cfg', 'k', '--json', '--peer', a.address, '--certs', grid.dir])
        return got.code === 0 && JSON.parse(got.stdout) === i ? true : undefined
      }, 5000, 100)
    }
    // the CLI's connections used to make B's gossipsub drop A's streams: A suspected, failed and re-joined B
    // after nearly every write (suspect after 3 heartbeats of 200 ms); watched 2 s more for a late verdict
    await new Promise(resolve => setTimeout(resolve, 2000))
    const flaps = (node: GridProcess, from: number, about: string): string[] => node.lines.slice(from).filter(l => ['member:suspect', 'member:fail', 'member:rejoin'].some(t => memberEvent(t, about)(l))).map(l => l.msg)
    expect(flaps(a, since.a, b.peerId)).toEqual([])
    expect(flaps(b, since.b, a.peerId)).toEqual([])
    expect(b.lines.slice(since.b).filter(l => l.msg === 'refuting suspicion')).toEqual([])
    expect((await grid.status(a)).members.find(m => m.id === b.peerId)?.state).toBe('alive')
  }, 60_000)
})
