import { describe, it, expect, beforeAll } from 'vitest'
import { X509Certificate, generateKeyPairSync } from 'node:crypto'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { peerIdFromCertificate, privateKeyFromPem } from '../../../src/transport/identity.ts'
import { CertificateError } from '../../../src/errors.ts'

let ca: CertKeyPair
let a: CertKeyPair
let b: CertKeyPair
beforeAll(async () => {
  ca = await createCa()
  a = await issueCertificate(ca, { name: 'a' })
  b = await issueCertificate(ca, { name: 'b' })
})

describe('peerIdFromCertificate / privateKeyFromPem', () => {
  it('the certificate and its key give the same peer id', async () => {
    for (const pair of [a, b]) {
      const fromCert = peerIdFromCertificate(pair.cert)
      const fromKey = peerIdFromPrivateKey(await privateKeyFromPem(pair.key))
      expect(fromCert).toBeDefined()
      expect(fromCert!.toString()).toBe(fromKey.toString())
      expect(fromCert!.equals(fromKey)).toBe(true)
      expect(fromCert!.type).toBe('Ed25519')
      expect(fromCert!.toString()).toMatch(/^12D3KooW/)
    }
  })

  it('accepts PEM string, Buffer and X509Certificate alike', () => {
    const id = peerIdFromCertificate(a.cert)!.toString()
    expect(peerIdFromCertificate(Buffer.from(a.cert))!.toString()).toBe(id)
    expect(peerIdFromCertificate(new X509Certificate(a.cert))!.toString()).toBe(id)
  })

  it('different certificates give different ids', () => {
    expect(peerIdFromCertificate(a.cert)!.toString()).not.toBe(peerIdFromCertificate(b.cert)!.toString())
  })

  it('the same key gives the same id every time', async () => {
    const one = peerIdFromPrivateKey(await privateKeyFromPem(a.key))
    const two = peerIdFromPrivateKey(await privateKeyFromPem(a.key))
    expect(one.toString()).toBe(two.toString())
  })

  it('the private key signs what the certificate key verifies', async () => {
    const key = await privateKeyFromPem(a.key)
    const data = new TextEncoder().encode('hello grid')
    const sig = await key.sign(data)
    expect(await key.publicKey.verify(data, sig)).toBe(true)
    expect(peerIdFromPrivateKey(key).toString()).toBe(peerIdFromCertificate(a.cert)!.toString())
  })

  it('rejects a non-Ed25519 key with CertificateError', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    const err = await privateKeyFromPem(pem).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as CertificateError).code).toBe('ERR_CERTIFICATE')
    expect((err as Error).message).toContain('Ed25519')
  })
})
