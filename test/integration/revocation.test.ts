import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, readCaPair, writePair } from '../../src/certs/files.ts'
import { issueCertificate } from '../../src/certs/create.ts'
import { revokeInDir } from '../../src/certs/crl.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import { connectedTo, refusedFor, revokeAndMeasure } from './helpers/revocation.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { createClientLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { pushCrl } from '../../src/trust/crl-protocol.ts'

/** The grid's promise (issue 13): a revoked certificate is dropped everywhere within this. */
const REVOCATION_BOUND_MS = 5000

describe('revocation: grid certs revoke, spread through the grid, enforced on open connections and at the handshake', () => {
  let grid: GridFixture
  let foreignDir: string

  beforeAll(async () => {
    grid = await GridFixture.create(6)
    foreignDir = await mkdtemp(join(tmpdir(), 'gridd-foreign-ca-'))
    await initCertsDir(foreignDir)
  })
  afterAll(async () => {
    await cleanup(async () => { await grid.close() }, async () => { await rm(foreignDir, { recursive: true, force: true }) })
  })

  let started = 0
  /** Node `name` with a data dir of its own under the fixture's dir (removed with it), unless `args` give one. */
  async function start (name: string, args: string[] = []): Promise<GridProcess> {
    return await grid.start(name, args.includes('--data-dir') ? args : [...args, '--data-dir', join(grid.dir, `data-${name}-${++started}`)])
  }

  async function stopAll (nodes: GridProcess[]): Promise<void> {
    await Promise.all(nodes.map(async n => await n.stop()))
  }

  it('a revoked member is dropped by every node within 5 s, cannot reconnect, and a node that was away gets the CRL when it joins', async () => {
    const n1 = await start('n1')
    const peers = ['--peer', n1.address]
    const [n2, n3, victim] = await Promise.all([start('n2', peers), start('n3', peers), start('n4', peers)])
    const nodes = [n1, n2, n3]
    try {
      // the victim must hold a connection to every node, or there is nothing to drop
      await Promise.all(nodes.map(async n => await n.firstLine(connectedTo(victim.peerId), 20_000)))

      const beforeRevoke = nodes.map(n => n.mark())
      const timing = await revokeAndMeasure(grid.dir, 'n4', victim, n1, nodes)
      console.log(`revocation: every node dropped the revoked member ${timing.spreadMs} ms after the first node accepted the CRL (per node: ${timing.dropsMs.join(', ')} ms); ${timing.endToEndMs} ms after \`grid certs revoke --peer\` started`)
      expect(timing.spreadMs).toBeLessThanOrEqual(REVOCATION_BOUND_MS)
      for (const n of nodes) expect(n.lines.some(l => l.msg === 'certificate revocation list updated' && l.number === '1')).toBe(true)

      // it keeps redialling (its membership does, and the nodes redial it): every node refuses it at the
      // handshake (logged once a minute per host and reason, so the line may predate the drop)
      const afterDrop = nodes.map(n => n.mark())
      await Promise.all(nodes.map(async (n, i) => await n.waitFor(refusedFor('revoked', 'n4'), 20_000, beforeRevoke[i])))
      for (const [i, n] of nodes.entries()) expect(n.lines.slice(afterDrop[i]).filter(connectedTo(victim.peerId))).toEqual([])

      // a node that was down during the push catches up from the first member it connects to, and stores it
      const dataDir = join(grid.dir, 'n5-data')
      const late = await start('n5', ['--peer', n2.address, '--data-dir', dataDir])
      const caught = await late.firstLine(l => l.msg === 'certificate revocation list updated', 15_000)
      expect(caught.number).toBe('1')
      expect(nodes.map(n => n.peerId)).toContain(caught.from)
      // written after it is logged: wait for the file
      const stored = await eventually(async () => await readFile(join(dataDir, 'crl.pem'), 'utf8'))
      expect(stored).toBe(await readFile(join(grid.dir, 'crl.pem'), 'utf8'))
      await late.stop()
      // ...and loads it at its next start
      const restarted = await start('n5', ['--data-dir', dataDir])
      await restarted.firstLine(l => l.msg === 'certificate revocation list updated' && l.from === undefined)
      await restarted.stop()
    } finally {
      await stopAll([n1, n2, n3, victim])
    }
  })

  it('refuses a CRL signed by another CA or malformed, counts it, refuses a client\'s push, and keeps serving; an older CRL does not replace a newer', async () => {
    const dir = grid.dir
    const n1 = await start('n1')
    try {
      // another CA's CRL: the CLI hears the node's CrlError (exit 2)
      const foreign = await runGrid(['certs', 'revoke', '0abc', '--dir', foreignDir, '--peer', n1.address, '--certs', dir])
      expect(foreign.code, foreign.stderr).toBe(2)
      expect(foreign.stderr).toMatch(/ERR_CRL.*signature does not verify/)
      await n1.firstLine(l => l.rejected === 'invalid' && l.protocol === '/gridd/crl/1.0.0')
      // a member relays CRLs, so it may push one; garbage from it is refused and counted, never a crash
      const member = await createClientLibp2p(await loadCerts(dir, 'n2'), pino({ level: 'silent' }))
      try {
        const garbage = { der: Uint8Array.from(Buffer.from('not a CRL at all')), number: 99n, thisUpdate: new Date(), entries: [] }
        await expect(pushCrl(member, multiaddr(`/ip4/127.0.0.1/tcp/${n1.port}/p2p/${n1.peerId}`), garbage)).rejects.toMatchObject({ code: 'ERR_CRL' })
      } finally {
        await member.stop()
      }
      await n1.firstLine(l => l.rejected === 'invalid' && /malformed CRL/.test(String(l.reason)))
      // a client certificate may not push one at all
      const asClient = await runGrid(['certs', 'revoke', 'n4', '--dir', dir, '--peer', n1.address, '--name', 'client'])
      expect(asClient.stderr).toMatch(/ERR_FORBIDDEN/)
      expect(asClient.code).toBe(1)
      const status = await grid.status(n1)
      expect(status.self.id).toBe(n1.peerId)

      // crl.pem holds CRL 1 from the first test; keep it, make CRL 2, push CRL 2, then push the old one
      const old = join(dir, 'crl-1.pem')
      await copyFile(join(dir, 'crl.pem'), old)
      const second = await runGrid(['certs', 'revoke', 'n6', '--dir', dir, '--peer', n1.address])
      expect(second.code, second.stderr).toBe(0)
      expect(second.stdout).toMatch(/CRL number 2/)
      expect(second.stdout).toMatch(/accepted CRL number 2/)
      await copyFile(old, join(dir, 'crl.pem'))
      const replay = await runGrid(['certs', 'revoke', 'n4', '--dir', dir, '--peer', n1.address])
      expect(replay.code, replay.stderr).toBe(0)
      expect(replay.stdout).toMatch(/already revoked.*CRL number 1/)
      expect(replay.stdout).toMatch(/already holds CRL number 2, not older than 1/)
      // crl.pem is behind the grid's (restored, as here, or a copy of the CA dir): a new revocation makes a CRL
      // of a number the node already holds, which it keeps; n5 is not revoked there, and the CLI must say so
      const behind = await runGrid(['certs', 'revoke', 'n5', '--dir', dir, '--peer', n1.address])
      expect(behind.code, behind.stdout).toBe(2)
      expect(behind.stderr).toMatch(/"n5" \(serial [0-9a-f]+\) is not revoked on the grid/)
      expect(behind.stderr).toMatch(/holds CRL number 2, not older than this one \(2\)/)
    } finally {
      await n1.stop()
    }
  })

  it('grid node --crl FILE refuses the revoked peer from the start; a --crl that does not verify stops the start (exit 2)', async () => {
    const crl = join(grid.dir, 'start.crl.pem')
    // a CRL listing n6 only (made in a copy of the CA dir so the grid's crl.pem is left alone)
    const ca = await readCaPair(grid.dir)
    const copy = await mkdtemp(join(tmpdir(), 'gridd-crl-copy-'))
    try {
      await writeFile(join(copy, 'ca.crt'), ca.cert)
      await writeFile(join(copy, 'ca.key'), ca.key, { mode: 0o600 })
      await copyFile(join(grid.dir, 'n6.crt'), join(copy, 'n6.crt'))
      await writeFile(crl, (await revokeInDir(copy, 'n6')).pem)
    } finally {
      await rm(copy, { recursive: true, force: true })
    }
    const n1 = await start('n1', ['--crl', crl, '--data-dir', join(grid.dir, 'n1-fresh')])
    try {
      const since = n1.mark()
      const victim = await start('n6', ['--peer', n1.address])
      await n1.waitFor(refusedFor('revoked', 'n6'), 15_000, since)
      expect(n1.lines.slice(since).filter(connectedTo(victim.peerId))).toEqual([])
      await victim.stop()
    } finally {
      await n1.stop()
    }
    const foreignCrl = join(foreignDir, 'crl.pem')
    await revokeInDir(foreignDir, 'node')
    for (const [file, text] of [[foreignCrl, /signature does not verify/], [join(grid.dir, 'n1.crt'), /not a PEM CRL/], [join(grid.dir, 'missing.pem'), /cannot read/]] as const) {
      const res = await runGrid(['node', '--certs', grid.dir, '--name', 'n1', '--host', '127.0.0.1', '--port', '0', '--crl', file])
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr).toMatch(text)
    }
  })

  it('disconnects a peer whose certificate expires while connected, and refuses it after; the node with it warns at start', async () => {
    const ca = await readCaPair(grid.dir)
    // long enough to start and connect on a loaded machine, short enough to expire within the test
    const validMs = 12_000
    const issuedAt = Date.now()
    await writePair(grid.dir, 'short', await issueCertificate(ca, { name: 'short', roles: ['member', 'agent'], notAfter: new Date(issuedAt + validMs) }), true)
    const n1 = await start('n1', ['--certificate-check-ms', '500'])
    try {
      const short = await start('short', ['--peer', n1.address])
      const warning = await short.firstLine(l => /this node's certificate expires in less than a day/.test(String(l.msg)))
      expect(warning.level).toBe(40)
      const connected = await n1.firstLine(connectedTo(short.peerId), 15_000)
      expect(Number(connected.time), 'the short-lived certificate must connect before it expires').toBeLessThan(issuedAt + validMs)
      const since = n1.mark()
      const dropped = await n1.waitFor(l => l.peer === short.peerId && /its certificate expired/.test(String(l.msg)), validMs + 15_000, since)
      // X.509 times have whole seconds; the check runs every 500 ms
      expect(Number(dropped.time)).toBeGreaterThanOrEqual(Math.floor((issuedAt + validMs) / 1000) * 1000)
      await n1.waitFor(refusedFor('expired', 'short'), 15_000, since)
      await short.stop()
    } finally {
      await n1.stop()
    }
  })

  it('refuses to start with an expired certificate (exit 2)', async () => {
    const ca = await readCaPair(grid.dir)
    const day = 24 * 60 * 60 * 1000
    await writePair(grid.dir, 'old', await issueCertificate(ca, { name: 'old', notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) }), true)
    const res = await runGrid(['node', '--certs', grid.dir, '--name', 'old', '--host', '127.0.0.1', '--port', '0'])
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).toMatch(/certificate \(CN=old\) expired on/)
  })
})
