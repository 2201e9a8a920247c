import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { once } from 'node:events'

const MTLS = '/gridd/mtls/1.0.0'

/**
 * Dials a node by hand: multistream-select to gridd's mTLS protocol, then a
 * TLS 1.3 handshake with whatever certificate (or none) the test gives.
 * Resolves with whether the node kept the connection open for `holdMs`.
 */
export async function rawMtlsDial (port: number, tls: { ca: string, cert?: string, key?: string }, holdMs = 2000): Promise<{ keptOpen: boolean }> {
  const socket = netConnect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(Buffer.concat([lp('/multistream/1.0.0\n'), lp(`${MTLS}\n`)]))
  await readMessages(socket, 2)
  const secure = tlsConnect({ socket, ...tls, minVersion: 'TLSv1.3', rejectUnauthorized: false, checkServerIdentity: () => undefined })
  // a refusing node may reset the connection: that is an outcome here, not a test error
  secure.on('error', () => {})
  const closed = new Promise<boolean>(resolve => secure.on('close', () => resolve(true)))
  await Promise.race([new Promise(resolve => secure.once('secureConnect', resolve)), closed])
  const keptOpen = !await Promise.race([closed, new Promise<boolean>(resolve => setTimeout(() => resolve(false), holdMs))])
  secure.destroy()
  return { keptOpen }
}

/** Writes raw bytes to the port; resolves with whether the node closed the socket within `holdMs`, and when (ms after connecting). */
export async function rawBytes (port: number, bytes: Buffer | string, holdMs = 15_000): Promise<{ closedByNode: boolean, afterMs: number }> {
  const socket = netConnect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const connectedAt = Date.now()
  socket.write(bytes)
  socket.resume()
  const closed = new Promise<boolean>(resolve => socket.on('close', () => resolve(true)))
  const closedByNode = await Promise.race([closed, new Promise<boolean>(resolve => setTimeout(() => resolve(false), holdMs))])
  const afterMs = Date.now() - connectedAt
  socket.destroy()
  return { closedByNode, afterMs }
}

function lp (text: string): Buffer {
  const body = Buffer.from(text)
  return Buffer.concat([Buffer.from([body.length]), body])
}

async function readMessages (socket: Socket, count: number): Promise<void> {
  let buffer = Buffer.alloc(0)
  let seen = 0
  while (seen < count) {
    const [chunk] = await once(socket, 'data') as [Buffer]
    buffer = Buffer.concat([buffer, chunk])
    while (buffer.length > 0 && buffer.length >= 1 + (buffer[0] ?? 0)) {
      buffer = buffer.subarray(1 + (buffer[0] ?? 0))
      seen++
    }
  }
  socket.pause()
}
