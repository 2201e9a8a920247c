import type { Socket } from 'node:net'
import * as v from 'valibot'
import { ROLES } from '../trust/roles.ts'

/** One request, one response, each a line of JSON; nothing longer is read. */
export const MAX_JOIN_MESSAGE_BYTES = 16 * 1024
/** A connection that has not finished its exchange by then is closed. */
export const JOIN_EXCHANGE_TIMEOUT_MS = 10_000

const pem = (label: string): v.GenericSchema<string> => v.pipe(v.string(), v.maxLength(8 * 1024), v.startsWith(`-----BEGIN ${label}-----`))

export const joinRequest = v.strictObject({
  v: v.literal(1),
  /** The token's id: the issuer finds its record (and secret) by it. */
  token: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)),
  /** PKCS#10, signed by the joiner's new Ed25519 key (proof it holds the key). */
  csr: pem('CERTIFICATE REQUEST'),
  /** HMAC-SHA256 of the CSR text with the token's secret. */
  mac: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/))
})
export type JoinRequest = v.InferOutput<typeof joinRequest>

export const joinResponse = v.variant('ok', [
  v.strictObject({
    v: v.literal(1),
    ok: v.literal(true),
    cert: pem('CERTIFICATE'),
    ca: pem('CERTIFICATE'),
    roles: v.array(v.picklist(ROLES)),
    /** The issuer's libp2p addresses: the joiner dials them to join the grid. */
    addresses: v.pipe(v.array(v.pipe(v.string(), v.maxLength(512))), v.maxLength(32))
  }),
  v.strictObject({ v: v.literal(1), ok: v.literal(false), error: v.pipe(v.string(), v.maxLength(512)) })
])
export type JoinResponse = v.InferOutput<typeof joinResponse>

/** Reads one newline-terminated JSON value from `socket`, at most MAX_JOIN_MESSAGE_BYTES; rejects on more, on a bad end, or on bad JSON. */
export async function readLine (socket: Socket): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (err?: Error, value?: unknown): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', onEnd)
      socket.off('close', onEnd)
      if (err != null) reject(err)
      else resolve(value)
    }
    const onData = (chunk: Buffer): void => {
      const end = chunk.indexOf(0x0a)
      const part = end < 0 ? chunk : chunk.subarray(0, end)
      size += part.length
      if (size > MAX_JOIN_MESSAGE_BYTES) { done(new Error(`message over ${MAX_JOIN_MESSAGE_BYTES} bytes`)); return }
      chunks.push(part)
      if (end < 0) return
      try {
        done(undefined, JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (err) {
        done(err as Error)
      }
    }
    const onEnd = (err?: Error): void => { done(err instanceof Error ? err : new Error('connection closed before a whole message')) }
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('error', onEnd)
    socket.on('close', onEnd)
  })
}

export function writeLine (socket: Socket, value: unknown): void {
  socket.write(JSON.stringify(value) + '\n')
}
