import type { Connection, StreamHandler } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as v from 'valibot'
import { encode } from 'uint8-varint'
import { yamuxStreamPair } from '../owner/stubs.ts'
import { JsonStream, MAX_MESSAGE_BYTES } from '../../../src/transport/json-stream.ts'

/**
 * A hostile peer's opening: `count` streams to `handler` from one peer, each announcing the largest request
 * (its length prefix) and sending 64 KiB of it, never the rest. The caller aborts the streams when done.
 */
export async function startLargestRequests (handler: StreamHandler, count: number): Promise<JsonStream[]> {
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const started: JsonStream[] = []
  for (let i = 0; i < count; i++) {
    const [outbound, inbound] = await yamuxStreamPair()
    void handler(inbound, { remotePeer: peer } as unknown as Connection)
    outbound.send(encode(MAX_MESSAGE_BYTES))
    outbound.send(new Uint8Array(64 * 1024).fill(0x20))
    started.push(new JsonStream(outbound))
  }
  return started
}

/** What each stream was answered within `ms` ('none' if nothing). */
export async function answersWithin (streams: JsonStream[], ms: number): Promise<unknown[]> {
  return await Promise.all(streams.map(async json => await json.read(v.unknown(), { signal: AbortSignal.timeout(ms) }).catch(() => 'none')))
}
