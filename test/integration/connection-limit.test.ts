import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { createGridLibp2p, MAX_CONNECTIONS_PER_PEER } from '../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'

describe('connections per peer', () => {
  let grid: GridFixture
  let node: GridProcess
  let peer: GridLibp2p

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    node = await grid.start('n1')
    peer = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), log: pino({ level: 'silent' }) })
  })

  afterAll(async () => {
    await peer?.stop()
    await grid?.close()
  })

  it(`a peer may hold at most ${MAX_CONNECTIONS_PER_PEER} connections to a node (each with its per-protocol stream limits); more are refused, and the node stays up`, async () => {
    const target = multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`)
    const outcomes: string[] = []
    for (let i = 0; i < MAX_CONNECTIONS_PER_PEER + 3; i++) {
      // force: a new connection each time, not the one already open
      outcomes.push(await peer.dial(target, { force: true }).then(() => 'open', () => 'refused'))
    }
    // the node closes a refused connection right after the handshake: count what stays open
    await new Promise(resolve => setTimeout(resolve, 500))
    const open = peer.getConnections().filter(c => c.status === 'open').length
    expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_PEER)
    expect(open).toBeGreaterThanOrEqual(1)
    expect(outcomes.length).toBe(MAX_CONNECTIONS_PER_PEER + 3)
    // still serving: a fresh status request answers
    expect((await grid.status(node)).self.id).toBe(node.peerId)
  }, 30_000)
})
