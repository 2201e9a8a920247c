import { it, expect } from 'vitest'
import type { Connection, Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { channelClientHandler } from '../../../src/channels/client-protocol.ts'
import { CLIENT_PROTOCOL } from '../../../src/channels/schema.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'

const MB = 1024 * 1024

it('a peer listing a large channel over and over without reading cannot make the node serialise and hold it each time: past its budget, ERR_RATE_LIMITED', async () => {
  const client = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  // 8 MiB: 128 values of 64 KiB
  const channel = new ChannelReplica('big', { selfId: 'self', clock: new HlcClock(), maxValueBytes: 64 * 1024, publish: () => {}, running: () => true })
  for (let i = 0; i < 128; i++) channel.set(`k${i}`, 'v'.repeat(64 * 1024 - 16))
  channel.synced()
  const rejections = new Rejections(resolveLogger())
  const handler = channelClientHandler({ read: () => channel, write: () => channel }, trustEveryone(['client']), rejections)
  // 16 lists at once (the streams one connection may hold), none of them read: each answer waits in the node's stream
  const held: Stream[] = []
  for (let i = 0; i < 16; i++) {
    const [outbound, inbound] = await yamuxStreamPair()
    outbound.pause()
    held.push(inbound)
    void handler(inbound, { remotePeer: client } as unknown as Connection)
    await new JsonStream(outbound).write({ op: 'list', channel: 'big' })
  }
  await new Promise(resolve => setTimeout(resolve, 500))
  const queued = held.reduce((sum, stream) => sum + stream.writeBufferLength, 0)
  // 128 MiB were asked for with 16 small requests; the node answers a few lists and refuses the rest
  expect(queued).toBeLessThan(6 * 8 * MB)
  expect(rejections.counters()).toContainEqual(expect.objectContaining({ protocol: CLIENT_PROTOCOL, reason: 'rate-limited' }))
  for (const stream of held) stream.abort(new Error('test over'))
})
