import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { readCaPair } from '../../src/certs/files.ts'
import { exportKey, generateKeys, signCertificate } from '../../src/certs/create.ts'
import type { IssueOptions } from '../../src/certs/create.ts'
import { createClientLibp2p } from '../../src/transport/libp2p.ts'
import type { ClientLibp2p } from '../../src/transport/libp2p.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { runGrid } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import { refusedFor } from './helpers/revocation.ts'
import { sendControl } from '../../src/control/control.ts'
import { ERR_FORBIDDEN } from '../../src/errors.ts'

/**
 * One key, two certificates (as a node with GRID_TLS_SERVER_* and GRID_TLS_CLIENT_* has, or one renewed
 * while an old connection stays open), each presented on a connection of its own to a real node:
 * revocation and expiry must close exactly the connections whose certificate is condemned, and each
 * request is judged by the certificate presented on the connection it came on.
 */
describe('per connection: one key presenting two certificates', () => {
  let grid: GridFixture
  let node: GridProcess
  const dialers: ClientLibp2p[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    node = await grid.start('n1', ['--certificate-check-ms', '500'])
  })
  afterAll(async () => {
    await cleanup(async () => { await Promise.all(dialers.map(async d => { await d.stop() })) }, async () => { await grid.close() })
  })

  /** Two certificates for one fresh key, each held by a dialler of its own (same key: same peer id). */
  async function oneKeyTwoCertificates (first: Partial<IssueOptions>, second: Partial<IssueOptions>): Promise<Array<{ libp2p: ClientLibp2p, serial: string }>> {
    const ca = await readCaPair(grid.dir)
    const caPem = await readFile(join(grid.dir, 'ca.crt'), 'utf8')
    const keys = await generateKeys()
    const key = await exportKey(keys.privateKey)
    return await Promise.all([first, second].map(async options => {
      const cert = await signCertificate(ca, keys.publicKey, { name: 'two-certs', roles: ['client'], ...options })
      const libp2p = await createClientLibp2p({ ca: caPem, cert, key }, pino({ level: 'silent' }))
      dialers.push(libp2p)
      return { libp2p, serial: new X509Certificate(cert).serialNumber.toLowerCase().replace(/^0+/, '') }
    }))
  }

  const target = (): ReturnType<typeof multiaddr> => multiaddr(`/ip4/127.0.0.1/tcp/${node.port}/p2p/${node.peerId}`)
  const openConnections = (d: ClientLibp2p): number => d.getConnections().filter(c => c.status === 'open').length

  it('revoking the certificate an older connection presented closes that connection only; the other stays open', async () => {
    const [older, newer] = await oneKeyTwoCertificates({}, {})
    expect(older!.libp2p.peerId.equals(newer!.libp2p.peerId)).toBe(true)
    await older!.libp2p.dial(target())
    // the newer handshake is the certificate the node remembers for the peer
    const kept = await newer!.libp2p.dial(target())

    const since = node.mark()
    const res = await runGrid(['certs', 'revoke', older!.serial, '--dir', grid.dir, '--peer', node.address, '--timeout', '10000'])
    expect(res.code, res.stderr).toBe(0)
    const closed = await node.waitFor(l => l.peer === older!.libp2p.peerId.toString() && /its certificate is revoked/.test(String(l.msg)), 15_000, since)
    expect(closed.msg).toMatch(new RegExp(`closed 1 connection of peer .* that presented certificate ${older!.serial}`))
    await expect.poll(() => openConnections(older!.libp2p), { timeout: 10_000 }).toBe(0)
    // the certificate still valid keeps its connection (the same one) and is not refused
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect(kept.status).toBe('open')
    expect(newer!.libp2p.getConnections().map(c => c.id)).toEqual([kept.id])
    // the revoked one cannot come back: the node refuses it at the handshake (in TLS 1.3 the dialler
    // may see its side finish before the node has read its certificate, so the node's word decides)
    const redial = node.mark()
    await older!.libp2p.dial(target()).catch(() => undefined)
    await node.waitFor(refusedFor('revoked', 'two-certs'), 15_000, redial)
    await expect.poll(() => openConnections(older!.libp2p), { timeout: 10_000 }).toBe(0)
    expect(kept.status).toBe('open')
  })

  it('a connection whose certificate expires is closed; the newer certificate\'s connection of the same key stays', async () => {
    // long enough to connect on a loaded machine, short enough to expire within the test
    const validMs = 8000
    const [renewed, expiring] = await oneKeyTwoCertificates({}, { notAfter: new Date(Date.now() + validMs) })
    const kept = await renewed!.libp2p.dial(target())
    // the expiring certificate is the newest handshake: the one the node remembers for the peer
    await expiring!.libp2p.dial(target())
    const since = node.mark()
    const closed = await node.waitFor(l => l.peer === expiring!.libp2p.peerId.toString() && /its certificate expired/.test(String(l.msg)), validMs + 15_000, since)
    expect(closed.msg).toMatch(/^closed 1 connection of peer/)
    await expect.poll(() => openConnections(expiring!.libp2p), { timeout: 10_000 }).toBe(0)
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect(kept.status).toBe('open')
    expect(renewed!.libp2p.getConnections().map(c => c.id)).toEqual([kept.id])
  })

  it('a request is judged by the certificate of its own connection: the newer, narrower one neither lends nor borrows roles', async () => {
    const [admin, client] = await oneKeyTwoCertificates({ roles: ['admin'] }, { roles: ['client'] })
    await admin!.libp2p.dial(target())
    // the client certificate's handshake is the newest: the one the node remembers for the peer
    await client!.libp2p.dial(target())
    await expect(sendControl(client!.libp2p, target(), { op: 'set-weight', weight: 5 })).rejects.toMatchObject({ code: ERR_FORBIDDEN })
    expect(await sendControl(admin!.libp2p, target(), { op: 'set-weight', weight: 5 })).toMatchObject({ weight: 5 })
    // and the other way round: a newer admin handshake does not let the client connection change weight
    await admin!.libp2p.hangUp(target())
    await admin!.libp2p.dial(target())
    await expect(sendControl(client!.libp2p, target(), { op: 'set-weight', weight: 6 })).rejects.toMatchObject({ code: ERR_FORBIDDEN })
  })
})
