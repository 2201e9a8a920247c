/**
 * Bridges between a libp2p MessageStream and the node:tls socket the mTLS
 * encrypter runs over: `toNodeDuplex` gives TLS a Duplex over the raw
 * connection, `toMessageStream` gives libp2p the decrypted side back.
 *
 * Adapted from @libp2p/tls 3.1.10 `src/utils.ts` (Apache-2.0 OR MIT,
 * Protocol Labs). Kept here because that module's entry also loads
 * @peculiar/x509, its ASN.1 stack, a WebCrypto polyfill and reflect-metadata
 * (~10 MB of every node's idle RSS) for certificate code gridd does not use.
 */
import { Duplex } from 'node:stream'
import { once } from 'node:events'
import type { TLSSocket } from 'node:tls'
import type { AbortOptions, MessageStream, MessageStreamDirection } from '@libp2p/interface'
import { AbstractMessageStream } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'

/** Queued frames up to this size are copied into one buffer and sent as one TLS record. */
const COALESCE_MAX_BYTES = 64 * 1024

/** Resolves on `event` from an EventTarget, rejects on its `close`. */
async function nextEvent (target: EventTarget, event: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onEvent = (): void => { cleanup(); resolve() }
    const onClose = (): void => { cleanup(); reject(new Error(`closed while waiting for ${event}`)) }
    const cleanup = (): void => { target.removeEventListener(event, onEvent); target.removeEventListener('close', onClose) }
    target.addEventListener(event, onEvent)
    target.addEventListener('close', onClose)
  })
}

export function toNodeDuplex (stream: MessageStream): Duplex {
  function sendAndCallback (chunk: Uint8Array | Uint8ArrayList, callback: (err?: Error | null) => void): void {
    try {
      if (stream.send(chunk)) { callback(); return }
      socket.pause()
      nextEvent(stream, 'drain').then(() => { socket.resume(); callback() }, (err: Error) => { callback(err) })
    } catch (err) {
      callback(err as Error)
    }
  }
  // incoming messages wait until the duplex is read
  stream.pause()
  const socket: Duplex = new Duplex({
    write (chunk: Uint8Array, _encoding, callback) { sendAndCallback(chunk, callback) },
    writev (chunks: Array<{ chunk: Uint8Array }>, callback) { sendAndCallback(new Uint8ArrayList(...chunks.map(({ chunk }) => chunk)), callback) },
    read () { stream.resume() },
    final (cb) { stream.close().then(() => { cb() }, (err: Error) => { cb(err) }) }
  })
  stream.addEventListener('message', (evt) => {
    const buf = evt.data
    let more = true
    if (buf instanceof Uint8Array) more = socket.push(buf)
    else for (const chunk of buf) more = socket.push(chunk)
    if (!more) stream.pause()
  })
  stream.addEventListener('close', (evt) => { socket.destroy(evt.error) })
  return socket
}

class EncryptedMessageStream extends AbstractMessageStream {
  private readonly socket: TLSSocket
  private readonly stream: MessageStream
  private closing?: Promise<void>

  constructor (stream: MessageStream, socket: TLSSocket) {
    super({ log: stream.log, inactivityTimeout: stream.inactivityTimeout, maxReadBufferLength: stream.maxReadBufferLength, direction: stream.direction as MessageStreamDirection })
    this.socket = socket
    this.stream = stream
    // the socket closed before this stream existed: nothing left to tear down
    if (socket.closed) this.closing = Promise.resolve()
    socket.on('data', (buf: Uint8Array) => { this.onData(buf) })
    socket.on('error', (err: Error) => { stream.abort(err) })
    socket.on('close', () => { this.closing = stream.close().catch((err: Error) => { stream.abort(err) }) })
    socket.on('drain', () => { this.safeDispatchEvent('drain') })
    stream.addEventListener('close', (evt) => {
      socket.destroy()
      // mirror the transport's close reason: a local failure, a remote reset and a clean close differ
      if (evt.error != null) {
        if (evt.local === true) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
  }

  async close (options?: AbortOptions): Promise<void> {
    // 'close' fires once: if it already did, wait for the teardown it started
    if (this.closing == null) {
      this.socket.destroySoon()
      await once(this.socket, 'close', { signal: options?.signal })
    }
    await this.closing
  }

  sendPause (): void { this.socket.pause() }
  sendResume (): void { this.socket.resume() }

  sendReset (err: Error): void {
    // a TLSSocket's handle is a TLSWrap, so resetAndDestroy() would throw; reset the transport instead
    this.socket.destroy()
    this.stream.abort(err)
  }

  /**
   * One TLS record (one socket write) for everything queued: yamux sends a frame's 12-byte
   * header and its data as separate chunks, and writing them one by one cost two records, two
   * syscalls and two wake-ups of the reader per message — half of an idle node's writes.
   * Bulk data (more than a few records' worth) goes chunk by chunk, as it comes, uncopied.
   */
  sendData (data: Uint8ArrayList): SendResult {
    if (data.byteLength <= COALESCE_MAX_BYTES) {
      // subarray() copies only when there is more than one chunk
      return { sentBytes: data.byteLength, canSendMore: this.socket.write(data.subarray()) }
    }
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }
}

export function toMessageStream (stream: MessageStream, socket: TLSSocket): MessageStream {
  return new EncryptedMessageStream(stream, socket)
}
