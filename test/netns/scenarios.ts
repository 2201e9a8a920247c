import { afterAll, beforeAll, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GridProcess } from '../integration/helpers/grid-process.ts'
import { eventually } from '../integration/helpers/grid-process.ts'
import { cleanup } from '../integration/helpers/cleanup.ts'
import { TestNetwork } from './network.ts'
import { allLogged, gridInHost, runGrid, startInHost, GRID_PORT } from './grid.ts'

/** A test grid: namespaces, a certificates dir (CA, n0..n<count-1>, client) and the nodes started; `close` removes all of it. */
export class NetnsGrid {
  readonly net: TestNetwork
  readonly dir: string
  readonly nodes: GridProcess[] = []

  private constructor (net: TestNetwork, dir: string) {
    this.net = net
    this.dir = dir
  }

  static async create (hosts: number): Promise<NetnsGrid> {
    const dir = await mkdtemp(join(tmpdir(), 'gridd-netns-'))
    let net: TestNetwork | undefined
    try {
      net = TestNetwork.create(hosts)
      const grid = new NetnsGrid(net, dir)
      const init = await runGrid(['certs', 'init', '--dir', grid.certs])
      if (init.code !== 0) throw new Error(init.stderr)
      for (let i = 0; i < hosts; i++) {
        const issued = await runGrid(['certs', 'issue', `n${i}`, '--role', 'member,agent', '--dir', grid.certs])
        if (issued.code !== 0) throw new Error(issued.stderr)
      }
      // channel writes from the CLI: a member certificate no running node uses (a node's own key cannot dial itself)
      const writer = await runGrid(['certs', 'issue', 'writer', '--role', 'member', '--dir', grid.certs])
      if (writer.code !== 0) throw new Error(writer.stderr)
      return grid
    } catch (err) {
      net?.close()
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  get certs (): string {
    return join(this.dir, 'certs')
  }

  address (i: number): string {
    return `${this.net.hosts[i]!.address}:${GRID_PORT}`
  }

  /** Starts node `n<i>` in host `i` with its own certificate (joining through host 0 unless it is host 0). */
  async start (i: number, args: string[] = []): Promise<GridProcess> {
    const node = await startInHost(this.net, i, ['--certs', this.certs, '--name', `n${i}`, ...(i === 0 ? [] : ['--peer', this.address(0)]), ...args])
    this.nodes[i] = node
    return node
  }

/**
   * A grid of `hosts` for one describe block: made and every node joined before
   * its tests, all of it removed after them (whatever failed).
   */
  static joinedForSuite (hosts: number): () => NetnsGrid {
    let grid: NetnsGrid | undefined
    beforeAll(async () => {
      grid = await NetnsGrid.create(hosts)
      for (let i = 0; i < hosts; i++) await grid.start(i)
      await allJoined(grid.nodes)
    })
    afterAll(async () => {
      await grid?.close()
    })
    return () => grid!
  }

    /** Every node stopped, the namespaces and bridges deleted, the temp dir removed: on every path. */
  async close (): Promise<void> {
    await cleanup(...this.nodes.map(n => async () => await n?.stop()), () => { this.net.allowAll(); this.net.close() }, async () => await rm(this.dir, { recursive: true, force: true }))
  }
}

/** Waits until every node has logged `member:join` (or `member:rejoin`) for every other. */
export async function allJoined (nodes: GridProcess[], timeoutMs = 30_000): Promise<void> {
  for (const node of nodes) {
    for (const other of nodes) {
      if (other === node) continue
      await node.firstLine(l => (l.msg === 'member:join' || l.msg === 'member:rejoin') && l.member === other.peerId, timeoutMs)
    }
  }
}

export interface PartitionTimes {
  /** From the links going down until both sides have marked every member of the other failed. */
  detectionMs: number
  /** From the heal until both sides have marked every member of the other alive again. */
  mergeMs: number
}

/**
 * Cuts `sideA` (host indexes) off from the rest, waits until a node on each side
 * marks every node of the other failed, runs `during` (both sides still up),
 * heals, and waits until they mark each other alive again.
 */
export async function partitionAndHeal (grid: NetnsGrid, sideA: number[], during: () => Promise<void> = async () => {}): Promise<PartitionTimes> {
  const sideB = grid.nodes.map((_, i) => i).filter(i => !sideA.includes(i))
  const [a, b] = [grid.nodes[sideA[0]!]!, grid.nodes[sideB[0]!]!]
  const peersOf = (side: number[]): string[] => side.map(i => grid.nodes[i]!.peerId)
  const marks = [a.mark(), b.mark()]
  const cutAt = Date.now()
  grid.net.partition(sideA)
  const detected = Math.max(await allLogged(a, 'member:fail', peersOf(sideB), marks[0]!, 30_000), await allLogged(b, 'member:fail', peersOf(sideA), marks[1]!, 30_000))
  await during()
  const healMarks = [a.mark(), b.mark()]
  const healAt = Date.now()
  grid.net.heal()
  const merged = Math.max(await allLogged(a, 'member:rejoin', peersOf(sideB), healMarks[0]!, 60_000), await allLogged(b, 'member:rejoin', peersOf(sideA), healMarks[1]!, 60_000))
  return { detectionMs: detected - cutAt, mergeMs: merged - healAt }
}

/** `grid channel set` through the node in host `i` (with the `writer` member certificate). */
export async function channelSet (grid: NetnsGrid, i: number, channel: string, key: string, value: string): Promise<void> {
  const set = await gridInHost(grid.net, i, ['channel', 'set', channel, key, value, '--peer', `127.0.0.1:${GRID_PORT}`, '--certs', grid.certs, '--name', 'writer'])
  expect(set.code, set.stderr).toBe(0)
}

/** The channel as the node in host `i` holds it. */
export async function channelList (grid: NetnsGrid, i: number, channel: string): Promise<Record<string, unknown>> {
  const listed = await gridInHost(grid.net, i, ['channel', 'list', channel, '--json', '--peer', `127.0.0.1:${GRID_PORT}`, '--certs', grid.certs])
  expect(listed.code, listed.stderr).toBe(0)
  return JSON.parse(listed.stdout) as Record<string, unknown>
}

/** Polls until the node in host `i` holds exactly `expected` in `channel`. */
export async function channelConverges (grid: NetnsGrid, i: number, channel: string, expected: Record<string, unknown>, timeoutMs = 30_000): Promise<void> {
  const sorted = (map: Record<string, unknown>): string => JSON.stringify(Object.entries(map).sort(([x], [y]) => x < y ? -1 : 1))
  await eventually(async () => sorted(await channelList(grid, i, channel)) === sorted(expected) ? true : undefined, timeoutMs, 500)
}
