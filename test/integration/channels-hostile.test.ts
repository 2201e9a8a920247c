import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { GridNode } from '../../src/node.ts'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { JsonStream } from '../../src/transport/json-stream.ts'
import { SYNC_PROTOCOL, syncAnswerSchema } from '../../src/channels/schema.ts'
import { entrySigner } from '../../src/channels/signature.ts'
import type { Entry } from '../../src/channels/store.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'

/** Small sync messages (8 KiB) so a channel of ~100 KB must stream in chunks; room for 4 channels (and 8 opened for reads). */
const LIMITS = ['--channel-value-bytes', '1024', '--channel-sync-bytes', '8192', '--max-channels', '4']

describe('channels against a member that holds a valid certificate and misbehaves', () => {
  let grid: GridFixture
  let node: GridProcess
  let writer: GridNode
  let rogue: GridLibp2p

  const cli = async (...args: string[]) => await runGrid(['channel', ...args, '--peer', node.address, '--certs', grid.dir, '--timeout', '8000'])

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    node = await grid.start('n1', LIMITS)
    writer = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), heartbeatMs: 200, peers: [node.address], channels: { maxValueBytes: 1024, syncMessageBytes: 8192 } })
    rogue = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), log: pino({ level: 'silent' }) })
    await rogue.dial(multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`))
  }, 60_000)

  afterAll(async () => {
    await rogue?.stop()
    await writer?.stop()
    await grid?.close()
  })

  /** Pushes `entries` into the node's channel as the delta of a snapshot exchange (the rogue asks with a wrong digest). */
  async function pushSnapshot (channel: string, entries: unknown[]): Promise<void> {
    const stream = await rogue.dialProtocol(peerIdFromString(node.peerId), SYNC_PROTOCOL)
    const json = new JsonStream(stream, { maxBytes: 8192 })
    await json.write({ v: 2, channel, digest: 'not-yours' })
    for (let answer = await json.read(syncAnswerSchema); answer.more; answer = await json.read(syncAnswerSchema)) {}
    await json.write({ v: 2, entries, more: false })
    await json.close().catch(() => {})
  }

  it('a forged snapshot entry (another member\'s origin, counter 2^53-1, or one in range) is dropped: the node\'s own writes still win', async () => {
    expect((await cli('set', 'cfg', 'k', '"mine"')).code).toBe(0)
    const now = Date.now()
    const sign = entrySigner((await loadCerts(grid.dir, 'n3')).key)
    const forged = (c: number): Entry => {
      const e: Entry = { key: 'k', value: 'evil', deleted: false, t: now + 30_000, c, origin: node.peerId }
      return { ...e, sig: sign('cfg', e) } // signed, but by the rogue's key
    }
    const before = node.mark()
    await pushSnapshot('cfg', [forged(Number.MAX_SAFE_INTEGER)])
    await pushSnapshot('cfg', [forged(5)])
    await node.waitFor(l => /without a valid signature/.test(l.msg), 10_000, before)
    await node.waitFor(l => l.msg === 'dropped a channel snapshot exchange', 10_000, before)
    const get = async (): Promise<unknown> => JSON.parse((await cli('get', 'cfg', 'k', '--json')).stdout)
    expect(await get()).toBe('mine')
    expect((await cli('set', 'cfg', 'k', '"mine-again"')).code).toBe(0)
    expect(await get()).toBe('mine-again')
    expect(node.proc.exitCode).toBeNull()
  }, 60_000)

  it('a channel far above one sync message (~100 KB vs 8 KiB) still reaches a member that opens it late', async () => {
    const big = writer.channel('big')
    for (let i = 0; i < 100; i++) big.set(`key-${i}`, 'x'.repeat(900))
    // the node never had `big` open, so only a snapshot exchange can bring it the keys
    const listed = await eventually(async () => {
      const res = await cli('list', 'big', '--json')
      const entries = res.code === 0 ? Object.keys(JSON.parse(res.stdout) as object) : []
      return entries.length === 100 ? entries : undefined
    }, 20_000, 500)
    expect(listed).toHaveLength(100)
  }, 60_000)

  it('a client cannot use up --max-channels: its reads of channels not open here open them apart (a pool of 8), writes still open channels up to the cap', async () => {
    // big is in the read pool already; reads of 9 more (past the pool) all answer
    for (let i = 1; i <= 9; i++) expect((await cli('list', `extra-${i}`)).code).toBe(0)
    // cfg is open for a write; three more writes fit under --max-channels 4, a fifth channel does not
    for (let i = 1; i <= 3; i++) expect((await cli('set', `written-${i}`, 'k', '1')).code).toBe(0)
    const refused = await cli('set', 'written-4', 'k', '1')
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/ERR_CHANNEL_LIMIT/)
    // the open ones still answer
    expect(JSON.parse((await cli('get', 'cfg', 'k', '--json')).stdout)).toBe('mine-again')
  }, 60_000)
})
