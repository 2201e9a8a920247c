import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as v from 'valibot'
import { requestJson } from '../../src/transport/json-stream.ts'
import { PROTOCOL as HELLO_PROTOCOL } from '../../examples/addon/hello-addon.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { RawPeer, addressOf, expectForbidden } from './helpers/raw-peer.ts'
import { cleanup } from './helpers/cleanup.ts'

const HELLO = fileURLToPath(new URL('../../examples/addon/hello-addon.ts', import.meta.url))
const MEMBERS_ONLY = fileURLToPath(new URL('../fixtures/addons/members-only.mjs', import.meta.url))
const MEMBERS_ONLY_PROTOCOL = '/test/members-only/1.0.0'
const replySchema = v.object({ ok: v.literal(true), value: v.record(v.string(), v.unknown()) })

// `ctx.handle(protocol, handler, schema, { roles })`: members only unless the add-on admits more
describe('add-on protocols admit the roles they name', () => {
  let grid: GridFixture
  let node: GridProcess
  const peers: RawPeer[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    node = await grid.start('n1', ['--addon', `${HELLO}:{"greeting":"hej"}`, '--addon', MEMBERS_ONLY])
    for (const name of ['client', 'n2', 'admin']) peers.push(await RawPeer.start(grid.dir, name))
  }, 60_000)

  afterAll(async () => {
    await cleanup(...peers.map(p => async () => await p.stop()), async () => await grid?.close())
  })

  const ask = async (peer: RawPeer, protocol: string) => await requestJson(peer.libp2p, addressOf(node), protocol, { name: 'x' }, replySchema, { signal: AbortSignal.timeout(5000) })

  it('the hello example admits client, member and admin certificates', async () => {
    for (const peer of peers) expect((await ask(peer, HELLO_PROTOCOL)).value).toMatchObject({ message: 'hej, x', from: node.peerId })
  })

  it('an add-on protocol with the default roles serves members and refuses the client and admin certificates with ERR_FORBIDDEN', async () => {
    const [client, member, admin] = peers as [RawPeer, RawPeer, RawPeer]
    expect((await ask(member, MEMBERS_ONLY_PROTOCOL)).value).toEqual({ served: member.peerId })
    for (const peer of [client, admin]) {
      await expectForbidden(ask(peer, MEMBERS_ONLY_PROTOCOL), /may not use \/test\/members-only\/1\.0\.0: it needs the member role$/)
    }
    // logged once per peer and protocol, with both named (the node's log arrives on its stdout, a moment after the refusal)
    const refusals = (): unknown[] => node.lines.filter(l => l.component === 'trust' && l.protocol === MEMBERS_ONLY_PROTOCOL).map(l => l.peer)
    await eventually(() => refusals().length >= 2 ? true : undefined, 5000, 50)
    expect(refusals().sort()).toEqual([client.peerId, admin.peerId].sort())
    // still serving
    expect((await ask(client, HELLO_PROTOCOL)).value).toMatchObject({ message: 'hej, x' })
  })
})
