import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import type { ChannelChange } from '../../src/channels/channel.ts'
import { ConfigError, ValueTooLargeError } from '../../src/errors.ts'
import { GridFixture, memberEvent } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

describe('channels across real processes', () => {
  let grid: GridFixture
  let nodes: GridProcess[]
  let observer: GridNode
  const changes: ChannelChange[] = []

  const cli = async (node: GridProcess, ...args: string[]) => await runGrid(['channel', ...args, '--peer', node.address, '--certs', grid.dir, '--timeout', '5000'])
  const get = async (node: GridProcess, key: string): Promise<unknown> => {
    const res = await cli(node, 'get', 'cfg', key, '--json')
    return res.code === 0 ? JSON.parse(res.stdout) : undefined
  }

  beforeAll(async () => {
    grid = await GridFixture.create(6)
    const first = await grid.start('n1')
    nodes = [first, await grid.start('n2', ['--peer', first.address]), await grid.start('n3', ['--peer', first.address])]
    observer = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n4'), heartbeatMs: 200, peers: [first.address] })
    await eventually(() => observer.members().filter(m => m.state === 'alive').length === 3 ? true : undefined)
    observer.channel('cfg').on('change', c => { changes.push(c) })
  }, 60_000)

  afterAll(async () => {
    await cleanup(async () => await observer?.stop(), async () => await grid?.close())
  })

  it('3 nodes write the same key at once: all settle on the same value, and change fires', async () => {
    const results = await Promise.all(nodes.map(async (node, i) => await cli(node, 'set', 'cfg', 'leader', `{"by":"n${i + 1}"}`)))
    expect(results.map(r => r.code)).toEqual([0, 0, 0])
    const settled = await eventually(async () => {
      const values = await Promise.all(nodes.map(async n => JSON.stringify(await get(n, 'leader'))))
      const local = JSON.stringify(observer.channel('cfg').get('leader'))
      return values.every(v => v === local && v !== undefined && v !== 'undefined') ? local : undefined
    }, 20_000, 250)
    expect(['{"by":"n1"}', '{"by":"n2"}', '{"by":"n3"}']).toContain(settled)
    expect(changes.some(c => c.key === 'leader' && !c.deleted)).toBe(true)
    expect(JSON.stringify(changes.filter(c => c.key === 'leader').at(-1)!.value)).toBe(settled)
  }, 60_000)

  it('a node that joins later sees every key without any new write', async () => {
    expect((await cli(nodes[0]!, 'set', 'cfg', 'region', 'eu-west')).code).toBe(0)
    expect((await cli(nodes[1]!, 'set', 'cfg', 'replicas', '3')).code).toBe(0)
    await eventually(async () => await get(nodes[2]!, 'replicas') === 3 ? true : undefined, 15_000, 250)
    const leader = observer.channel('cfg').get('leader')
    const late = await grid.start('n5', ['--peer', nodes[1]!.address])
    nodes.push(late)
    // joined (it hears all 4 others), but has never opened the channel: no write happens from here on
    await eventually(async () => (await grid.status(late)).members.filter(m => m.state === 'alive').length === 4 ? true : undefined, 20_000, 250)
    // its first read opens the channel, pulls a snapshot and answers from it: one read, no retries
    const res = await cli(late, 'list', 'cfg', '--json')
    expect(res.code, res.stderr).toBe(0)
    expect(JSON.parse(res.stdout)).toEqual({ leader, region: 'eu-west', replicas: 3 })
    expect(await get(late, 'leader')).toEqual(leader)
  }, 60_000)

  it('a key deleted while a node is SIGSTOPped stays deleted after it resumes', async () => {
    const paused = nodes[2]!
    expect((await cli(nodes[0]!, 'set', 'cfg', 'doomed', '"soon gone"')).code).toBe(0)
    await eventually(async () => await get(paused, 'doomed') === 'soon gone' ? true : undefined, 15_000, 250)
    const others = nodes.filter(n => n !== paused)
    const marks = others.map(n => n.mark())
    paused.proc.kill('SIGSTOP')
    try {
      // first the others hold it failed and cut their connections to it: no gossip can reach it any more,
      // so only the snapshot exchange after it resumes can tell it about the delete
      for (const [i, node] of others.entries()) await node.waitFor(memberEvent('member:fail', paused.peerId), 15_000, marks[i])
      expect((await cli(nodes[0]!, 'del', 'cfg', 'doomed')).code).toBe(0)
      expect((await cli(nodes[1]!, 'set', 'cfg', 'while-paused', '"yes"')).code).toBe(0)
      await eventually(async () => await get(nodes[1]!, 'doomed') === undefined ? true : undefined, 15_000, 250)
    } finally {
      paused.proc.kill('SIGCONT')
    }
    await eventually(async () => (await cli(paused, 'get', 'cfg', 'doomed')).code === 1 ? true : undefined, 20_000, 250)
    // it also has the write it slept through, with no new write since
    expect(await get(paused, 'while-paused')).toBe('yes')
    // and it does not come back: a resurrection would ride the resumed node's gossip or snapshot exchange,
    // both within a few 200 ms heartbeats of reconnecting; 2 s is ten of them
    await new Promise(resolve => setTimeout(resolve, 2000))
    for (const node of nodes) expect(await get(node, 'doomed')).toBeUndefined()
    expect(observer.channel('cfg').get('doomed')).toBeUndefined()
    expect(changes.some(c => c.key === 'doomed' && c.deleted)).toBe(true)
  }, 60_000)

  it('a channel larger than one protocol message (1.5 MB) still reaches a member that opens it later, and the CLI lists it', async () => {
    const bulk = observer.channel('bulk')
    const value = 'v'.repeat(60 * 1024)
    for (let i = 0; i < 25; i++) bulk.set(`k${i}`, `${i}:${value}`)
    // no process has the channel open: the only way in is the snapshot pulled when the CLI request opens it
    const res = await cli(nodes[0]!, 'list', 'bulk', '--json')
    expect(res.code, res.stderr).toBe(0)
    const listed = JSON.parse(res.stdout) as Record<string, string>
    expect(Object.keys(listed)).toHaveLength(25)
    expect(listed.k7).toBe(`7:${value}`)
  }, 60_000)

  it('an oversized value is refused with the typed error; bad input exits 2', async () => {
    const big = await cli(nodes[0]!, 'set', 'cfg', 'huge', 'x'.repeat(70 * 1024))
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(/ValueTooLargeError \(ERR_VALUE_TOO_LARGE\)/)
    expect(await get(nodes[0]!, 'huge')).toBeUndefined()
    expect(() => { observer.channel('cfg').set('huge', 'x'.repeat(70 * 1024)) }).toThrow(ValueTooLargeError)
    expect(observer.channel('cfg').has('huge')).toBe(false)
    // one object per name; names are checked where they are given
    expect(observer.channel('cfg')).toBe(observer.channel('cfg'))
    expect(() => observer.channel('bad name!')).toThrow(ConfigError)
    expect((await cli(nodes[0]!, 'set', 'cfg', 'only-key')).code).toBe(2)
    expect((await runGrid(['channel', 'get', 'bad name!', 'k', '--peer', nodes[0]!.address, '--certs', grid.dir])).code).toBe(2)
  }, 60_000)

  it('grid node --channel-value-bytes sets the limit a node enforces', async () => {
    const strict = await grid.start('n6', ['--channel-value-bytes', '100'])
    const small = await cli(strict, 'set', 'limits', 'k', 'x'.repeat(50))
    expect(small.code).toBe(0)
    const big = await cli(strict, 'set', 'limits', 'k', 'x'.repeat(200))
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(/ERR_VALUE_TOO_LARGE/)
    expect(big.stderr).toMatch(/limit is 100/)
  }, 60_000)
})
