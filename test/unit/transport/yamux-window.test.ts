import { describe, expect, it } from 'vitest'
import { yamux } from '@libp2p/yamux'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { MultiaddrConnection, Stream } from '@libp2p/interface'
import { sendWindowUpdatesAtHalf } from '../../../src/transport/yamux-window.ts'

/** A yamux session over an in-memory connection pair; counts the bytes the receiving side writes back. */
async function session (): Promise<{ sender: Stream, receiver: Stream, bytesBack: () => number }> {
  const [outbound, inbound] = multiaddrConnectionPair()
  let back = 0
  const send = inbound.send.bind(inbound)
  inbound.send = ((data: Parameters<MultiaddrConnection['send']>[0]) => { back += data.byteLength; return send(data) }) as MultiaddrConnection['send']
  const client = yamux()().createStreamMuxer(outbound)
  const server = yamux()().createStreamMuxer(inbound)
  const accepted = new Promise<Stream>(resolve => { server.addEventListener('stream', evt => { resolve(evt.detail) }, { once: true }) })
  const sender = await client.createStream()
  sender.send(new Uint8Array(1)) // the SYN goes with the first data
  const receiver = await accepted
  return { sender, receiver, bytesBack: () => back }
}

async function receive (stream: Stream, bytes: number): Promise<void> {
  let got = 0
  await new Promise<void>(resolve => {
    stream.addEventListener('message', evt => {
      got += evt.data.byteLength
      if (got >= bytes) resolve()
    })
  })
}

describe('yamux window updates once half the window is used', () => {
  sendWindowUpdatesAtHalf()

  it('200 small messages are received without a window update for each (12 bytes a frame otherwise)', async () => {
    const { sender, receiver, bytesBack } = await session()
    const all = receive(receiver, 200 * 100)
    for (let i = 0; i < 200; i++) {
      sender.send(new Uint8Array(100))
      // one frame each, received before the next (sends within one turn would share a frame)
      await new Promise(resolve => setTimeout(resolve, 1))
    }
    await all
    // the stream's ACK, and nothing per message: 200 updates would be 2,400 bytes
    expect(bytesBack()).toBeLessThan(100)
  })

  it('a transfer 16 times the window still flows (the sender is never left without window)', async () => {
    const { sender, receiver, bytesBack } = await session()
    const total = 16 * 256 * 1024
    const all = receive(receiver, total)
    const chunk = new Uint8Array(16 * 1024)
    for (let sent = 0; sent < total; sent += chunk.byteLength) {
      if (!sender.send(chunk)) await new Promise(resolve => { sender.addEventListener('drain', resolve, { once: true }) })
    }
    await all
    expect(bytesBack()).toBeGreaterThan(0)
  }, 20_000)
})
