import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { initCertsDir, issueIntoDir, readCaPair } from '../../src/certs/files.ts'
import { issueCertificate } from '../../src/certs/create.ts'
import { startNode, runGrid, eventually } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import type { GridProcess, LogLine } from './helpers/grid-process.ts'
import { rawMtlsDial, rawBytes } from './helpers/raw-dial.ts'
import { issueEcdsaCertificate } from './helpers/foreign-cert.ts'

const DAY = 24 * 60 * 60 * 1000

describe('CA-rooted mutual TLS between real grid nodes', () => {
  let dir: string
  let good: string
  let other: string
  let node: GridProcess
  const started: GridProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-mtls-'))
    good = join(dir, 'good')
    other = join(dir, 'other')
    await initCertsDir(good)
    await issueIntoDir(good, 'b', { roles: ['member', 'agent'] })
    await initCertsDir(other)
    const ca = await readCaPair(good)
    // throwaway test certificates outside their validity window
    for (const [name, notBefore, notAfter] of [['expired', -10 * DAY, -DAY], ['future', DAY, 10 * DAY]] as const) {
      const pair = await issueCertificate(ca, { name, notBefore: new Date(Date.now() + notBefore), notAfter: new Date(Date.now() + notAfter) })
      await writeFile(join(good, `${name}.crt`), pair.cert)
      await writeFile(join(good, `${name}.key`), pair.key, { mode: 0o600 })
    }
    node = await startNode(['--certs', good])
    started.push(node)
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.all(started.map(async p => await p.stop())), async () => await rm(dir, { recursive: true, force: true }))
  })

  const refusal = (reason: string) => (l: LogLine) => l.reason === reason && /refused inbound/.test(l.msg)

  async function expectStillServing (): Promise<void> {
    const ok = await runGrid(['status', '--peer', node.address, '--certs', good, '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout).self.id).toBe(node.peerId)
  }

  it('serves a client with a certificate from the grid CA', async () => {
    await expectStillServing()
  })

  it('refuses a peer that presents no certificate', async () => {
    const ca = await readFile(join(good, 'ca.crt'), 'utf8')
    const since = node.mark()
    const { keptOpen } = await rawMtlsDial(node.port, { ca })
    expect(keptOpen).toBe(false)
    const line = await node.waitFor(refusal('no-certificate'), 15_000, since)
    expect(line.msg).toMatch(/no certificate/)
    await expectStillServing()
  })

  it('refuses a certificate from the grid CA whose key is not Ed25519 (wrong-key-type)', async () => {
    const ca = await readFile(join(good, 'ca.crt'), 'utf8')
    const since = node.mark()
    const { keptOpen } = await rawMtlsDial(node.port, { ca, ...await issueEcdsaCertificate(good, 'ecdsa') })
    expect(keptOpen).toBe(false)
    const line = await node.waitFor(refusal('wrong-key-type'), 15_000, since)
    expect(line.msg).toMatch(/not Ed25519/)
    await expectStillServing()
  })

  it('refuses a certificate from another CA', async () => {
    const since = node.mark()
    const res = await runGrid(['status', '--peer', node.address, '--certs', other, '--timeout', '5000'])
    expect(res.code).not.toBe(0)
    const line = await node.waitFor(refusal('untrusted-ca'), 15_000, since)
    expect(line.msg).toMatch(/not signed by the grid CA/)
    await expectStillServing()
  })

  for (const [name, reason, text] of [['expired', 'expired', /expired/], ['future', 'not-yet-valid', /not valid before/]] as const) {
    it(`refuses a ${reason} certificate`, async () => {
      const since = node.mark()
      const res = await runGrid(['status', '--peer', node.address, '--certs', good, '--name', name, '--timeout', '5000'])
      expect(res.code).not.toBe(0)
      const line = await node.waitFor(refusal(reason), 15_000, since)
      expect(line.msg).toMatch(text)
      await expectStillServing()
    })
  }

  it('refuses to talk to a node whose certificate is not the dialled peer id', async () => {
    const wrongId = (await runGrid(['status', '--peer', node.address, '--certs', good, '--json'])).stdout
    expect(wrongId).toContain(node.peerId)
    // dial the node's address but claim it is some other peer
    const impostor = '12D3KooWEAKSkbfqvTq3XgSMZDzgdSFL1b7Ny3C1LoDmrVgmRCzd'
    const res = await runGrid(['status', '--peer', `/ip4/127.0.0.1/tcp/${node.port}/p2p/${impostor}`, '--certs', good, '--timeout', '5000', '--log-level', 'warn'])
    expect(res.code).not.toBe(0)
    expect(res.stderr).toMatch(/wrong-peer-id/)
    expect(res.stderr).toContain(`expected peer ${impostor}`)
    await expectStillServing()
  })

  it('drops plaintext and garbage bytes after its 5 s upgrade timeout at the latest, and stays up', async () => {
    const since = node.mark()
    // the HTTP request reads as the start of a multistream frame it never completes, so only the node's 5 s
    // inbound upgrade timeout ends it (measured: 5.0 s); the bound leaves 2 s for timers on a loaded machine
    const http = await rawBytes(node.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 10_000)
    expect(http.closedByNode).toBe(true)
    expect(http.afterMs).toBeLessThanOrEqual(7000)
    const garbage = await rawBytes(node.port, randomBytes(4096), 10_000)
    expect(garbage.closedByNode).toBe(true)
    expect(garbage.afterMs).toBeLessThanOrEqual(7000)
    // logged (rate-limited: once a minute per host, so the second from 127.0.0.1 is counted, not logged)
    await eventually(() => node.lines.some(refusal('no-handshake')) ? true : undefined)
    expect(node.lines.slice(since).filter(refusal('no-handshake')).length).toBeLessThanOrEqual(1)
    await expectStillServing()
  })

  it('still accepts a node with a valid certificate after all those attempts', async () => {
    const b = await startNode(['--certs', good, '--name', 'b', '--peer', node.address])
    started.push(b)
    await b.firstLine(l => l.msg === 'joined through seed')
    const res = await runGrid(['status', '--peer', node.address, '--certs', good, '--json'])
    const report = JSON.parse(res.stdout) as { members: Array<{ id: string }> }
    expect(report.members.map(m => m.id)).toContain(b.peerId)
  })
})
