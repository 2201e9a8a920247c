import { generateKeyPairSync } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { Entry } from '../../../src/channels/store.ts'
import { entrySigner } from '../../../src/channels/signature.ts'

/** A member identity: the peer id that embeds its public key, and a signer of channel writes with its key. */
export function identity (): { id: string, sign: (channel: string, e: Entry) => string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const x = publicKey.export({ format: 'jwk' }).x!
  const id = peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(x, 'base64url'))).toString()
  return { id, sign: entrySigner(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()) }
}
