import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Entry } from './store.ts'

/** Public keys of recent writers (an Ed25519 peer id embeds its key: no lookup needed, only parsing). */
const MAX_CACHED_KEYS = 1024
const publicKeys = new Map<string, KeyObject | null>()

/**
 * What a write's signature covers: every field that decides what a replica
 * holds, and the channel, so a write cannot be replayed into another one.
 * Values are JSON parsed from JSON, so stringify gives the same text on every member.
 */
export function signedBytes (channel: string, e: Entry): Buffer {
  return Buffer.from(JSON.stringify([channel, e.key, e.deleted ? null : e.value, e.t, e.c, e.origin, e.deleted]))
}

/** Signs the writes of this node with its Ed25519 key (the key of its certificate and peer id). */
export function entrySigner (keyPem: string): (channel: string, entry: Entry) => string {
  const key = createPrivateKey(keyPem)
  return (channel, entry) => sign(null, signedBytes(channel, entry), key).toString('base64')
}

/** True when `entry` carries a valid signature of its origin: then any member may relay it. */
export function verifyEntry (channel: string, entry: Entry): boolean {
  if (entry.sig == null) return false
  const key = publicKeyOf(entry.origin)
  if (key == null) return false
  try {
    return verify(null, signedBytes(channel, entry), key, Buffer.from(entry.sig, 'base64'))
  } catch {
    return false
  }
}

function publicKeyOf (origin: string): KeyObject | null {
  let key = publicKeys.get(origin)
  if (key !== undefined) return key
  key = null
  try {
    const raw = peerIdFromString(origin).publicKey
    if (raw?.type === 'Ed25519') key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw.raw).toString('base64url') }, format: 'jwk' })
  } catch {}
  if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value!)
  publicKeys.set(origin, key)
  return key
}
