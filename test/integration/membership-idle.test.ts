import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { readFile } from 'node:fs/promises'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'

const NODES = 4
/**
 * Generous: 30 KB/s per node measured here (4 nodes, 200 ms heartbeats: ~6 KB per node per heartbeat, its
 * own and forwarded heartbeats to 3 peers plus gossipsub control and TLS framing; the figure belongs in a
 * benchmark). The bound catches a gossip storm or a payload that grows, not a few percent.
 */
const MAX_BYTES_PER_NODE_PER_S = 100 * 1024
/** Several heartbeat refreshes (every 5 heartbeats at this size) per window, so windows compare. */
const WINDOW_MS = 8000

/** Bytes the process has written (sockets, and its log pipe, where an idle node logs nothing). */
async function bytesWritten (node: GridProcess): Promise<number> {
  const io = await readFile(`/proc/${node.proc.pid}/io`, 'utf8')
  return Number(/^wchar: (\d+)$/m.exec(io)![1])
}

/** DESIGN §10: an idle grid (nothing changes) gossips a bounded, steady amount. */
describe.skipIf(process.platform !== 'linux')(`an idle grid of ${NODES} nodes`, () => {
  let grid: GridFixture

  beforeAll(async () => {
    grid = await GridFixture.create(NODES)
    const first = await grid.start('n1')
    for (let i = 2; i <= NODES; i++) await grid.start(`n${i}`, ['--peer', first.address])
    for (const node of grid.nodes) await eventually(async () => (await grid.status(node)).members.filter(m => m.state === 'alive').length === NODES - 1 ? true : undefined, 20_000)
  })

  afterAll(async () => { await grid?.close() })

  it('writes a bounded number of bytes per node per second, and about as many in the second window as in the first', async () => {
    const windows: number[][] = []
    let last = await Promise.all(grid.nodes.map(bytesWritten))
    for (let w = 0; w < 2; w++) {
      const startedAt = Date.now()
      await new Promise(resolve => setTimeout(resolve, WINDOW_MS))
      const now = await Promise.all(grid.nodes.map(bytesWritten))
      const seconds = (Date.now() - startedAt) / 1000
      windows.push(now.map((bytes, i) => (bytes - last[i]!) / seconds))
      last = now
    }
    for (const rate of windows.flat()) {
      expect(rate).toBeGreaterThan(0)
      expect(rate).toBeLessThan(MAX_BYTES_PER_NODE_PER_S)
    }
    // steady, not growing: each node's second window within 2x of its first (timers run late on a loaded machine)
    windows[1]!.forEach((rate, i) => { expect(rate).toBeLessThan(windows[0]![i]! * 2) })
  }, 90_000)
})
