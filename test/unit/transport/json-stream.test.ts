import { it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import * as v from 'valibot'
import { JsonStream } from '../../../src/transport/json-stream.ts'

it('reads messages up to its maxBytes, also over the 4 MiB of libp2p\'s default read buffer (which reset the stream)', async () => {
  const [a, b] = await streamPair()
  const writer = new JsonStream(a, { maxBytes: 16 * 1024 * 1024 })
  const reader = new JsonStream(b, { maxBytes: 16 * 1024 * 1024 })
  const big = 'x'.repeat(15 * 1024 * 1024)
  // two at once: the second arrives while the first is still being read
  const written = Promise.all([writer.write(big), writer.write('after')])
  expect(await reader.read(v.string())).toBe(big)
  expect(await reader.read(v.string())).toBe('after')
  await written
  // over maxBytes is still refused
  void writer.write('y'.repeat(17 * 1024 * 1024)).catch(() => {})
  await expect(reader.read(v.string())).rejects.toMatchObject({ name: 'ProtocolError' })
})

it('refuses a length prefix that never ends (every byte with the continuation bit) rather than read it without end', async () => {
  const [a, b] = await streamPair()
  const reader = new JsonStream(b, { maxBytes: 1024 })
  const reading = reader.read(v.unknown())
  reading.catch(() => {})
  for (let i = 0; i < 64; i++) a.send(new Uint8Array(1024).fill(0x80))
  const outcome = await Promise.race([
    reading.then(() => 'read', (err: Error) => err.name),
    new Promise(resolve => setTimeout(() => { resolve('still reading') }, 500))
  ])
  expect(outcome).toBe('ProtocolError')
})
