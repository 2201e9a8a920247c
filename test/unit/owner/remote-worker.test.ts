import { it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RemoteWorker } from '../../../src/owner/remote-worker.ts'

it('an attach given up while its first write waits (backpressure) aborts its stream rather than leave it open', async () => {
  const [stream] = await streamPair()
  // the connection is busy: the attach message waits for 'drain'
  stream.send = () => false
  const libp2p = { dialProtocol: async () => stream } as unknown as Libp2p
  const agent = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const controller = new AbortController()
  const attaching = RemoteWorker.attach(libp2p, agent, { id: 'w1', pid: 1, stage: 's', resources: { cpu: 1, memoryMb: 0 } }, { signal: controller.signal })
  setTimeout(() => { controller.abort(new Error('the spawn timed out')) }, 10)
  await expect(attaching).rejects.toThrow('the spawn timed out')
  expect(stream.status).toBe('aborted')
})
