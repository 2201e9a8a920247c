import { it, expect } from 'vitest'
import { X509Certificate } from 'node:crypto'
import pino from 'pino'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import { createCrl } from '../../../src/certs/crl.ts'
import { NodeTrust } from '../../../src/trust/node-trust.ts'
import { normalizeSerial } from '../../../src/transport/mtls/verify.ts'
import { Revocation } from '../../../src/trust/revocation.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { crlStoreStub, revocationLibp2p } from './revocation-fixture.ts'

const serial = (pem: string): string => normalizeSerial(new X509Certificate(pem).serialNumber)

it('a node presenting two certificates (inbound and outbound) stands down only once the CRL lists both: with its outbound one valid the members still take its connections and elect it', async () => {
  const ca = await createCa()
  const inbound = await issueCertificate(ca, { name: 'n1' })
  const outbound = await issueCertificate(ca, { name: 'n1' })
  const tls = { ca: ca.cert, cert: inbound.cert, key: inbound.key, outbound: { cert: outbound.cert, key: outbound.key } }
  const log = pino({ level: 'silent' })
  const revokedAt = new Date()
  const held = async (serials: string[], number: bigint): Promise<NodeTrust> => new NodeTrust({ tls, crl: await createCrl(ca, serials.map(s => ({ serial: s, revokedAt })), number), certificateCheckMs: 60_000 }, log)
  expect((await held([], 1n)).ownRevoked()).toBe(false)
  expect((await held([serial(inbound.cert)], 2n)).ownRevoked(), 'its inbound certificate alone revoked').toBe(false)
  expect((await held([serial(outbound.cert)], 2n)).ownRevoked(), 'its outbound certificate alone revoked').toBe(false)
  expect((await held([serial(inbound.cert), serial(outbound.cert)], 3n)).ownRevoked(), 'both revoked').toBe(true)
  // one certificate, as most nodes have
  const single = new NodeTrust({ tls: { ca: ca.cert, cert: inbound.cert, key: inbound.key }, crl: await createCrl(ca, [{ serial: serial(inbound.cert), revokedAt }], 2n), certificateCheckMs: 60_000 }, log)
  expect(single.ownRevoked()).toBe(true)
})

it('the error a node logs of its own revocation says whether it stands down: not while one of its two certificates is valid', async () => {
  const lines: Array<{ msg: string }> = []
  const log = pino({ level: 'error' }, { write: (line: string) => { lines.push(JSON.parse(line) as { msg: string }) } })
  const { store, revoked } = crlStoreStub()
  const revocation = new Revocation({ libp2p: revocationLibp2p(() => []), credentials: new PeerCredentials(), store, ownSerials: ['a1', 'b2'] }, log)
  await revocation.start()
  revoked.add('b2')
  store.emit('update', { number: 2n } as never, undefined)
  revoked.add('a1')
  store.emit('update', { number: 3n } as never, undefined)
  await revocation.stop()
  expect(lines.map(l => l.msg)).toEqual([
    "this node's certificate b2 is revoked: the members refuse the connections that present it (it stands down only once every certificate it presents is revoked); issue a new one (`grid certs issue`)",
    "this node's own certificates are revoked: every member will refuse it, and it stands down from the grid's deployments and schedules; issue a new one (`grid certs issue`)"
  ])
})
