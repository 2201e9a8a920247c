import { it, expect, onTestFinished } from 'vitest'
import { GridFixture } from './helpers/grid-fixture.ts'

// An operator reading a node's log met peers only as 12D3KooW… ids; the certificate's name (its CN) says which node it is.
it('peer and member state lines name the peer by its certificate (name) besides its id', async () => {
  const grid = await GridFixture.create(2)
  onTestFinished(async () => { await grid.close() })
  const n1 = await grid.start('n1')
  const n2 = await grid.start('n2', ['--peer', n1.address])
  const connected = await n1.firstLine(l => l.msg === 'peer connected' && l.peer === n2.peerId, 20_000)
  expect(connected.name).toBe('n2')
  const joined = await n1.firstLine(l => l.msg === 'member:join' && l.member === n2.peerId, 20_000)
  expect(joined.name).toBe('n2')
  // once gone, still named (its certificate is remembered after its connections close); its 'peer
  // disconnected' line waits for the minute's end (the peer log's window), so the unit test covers that one
  await n2.stop('SIGKILL')
  const failed = await n1.firstLine(l => l.msg === 'member:fail' && l.member === n2.peerId, 20_000)
  expect(failed.name).toBe('n2')
}, 60_000)
