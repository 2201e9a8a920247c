/**
 * Just enough DER to read a CRL in every node without @peculiar/x509 (whose
 * ASN.1 stack costs a node ~20 MB resident): tag-length-value reading with
 * every length checked against its parent, OIDs, integers and times. Anything
 * that is not plain DER (indefinite lengths, high tag numbers) is refused.
 */

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  /** [0] EXPLICIT, constructed (a CRL's extensions, a certificate's version). */
  context0: 0xa0
} as const

/** One element: its tag, where it starts (header included), where its content starts, and its end. */
export interface Tlv {
  tag: number
  start: number
  contentStart: number
  end: number
}

/** Internal: what the reader found wrong; verifyCrl turns it into a CrlError ("malformed CRL: ..."). */
export class DerError extends Error {}

/** The element at `offset`, which must end by `limit`. */
export function readTlv (buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated element')
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not DER a CRL uses')
  let length = buf[offset + 1]!
  let contentStart = offset + 2
  if (length & 0x80) {
    const octets = length & 0x7f
    // 0 is BER's indefinite length; more than 4 octets would exceed any bound we accept
    if (octets === 0 || octets > 4) throw new DerError('unsupported length encoding')
    if (contentStart + octets > limit) throw new DerError('truncated length')
    length = 0
    for (let i = 0; i < octets; i++) length = length * 256 + buf[contentStart + i]!
    contentStart += octets
  }
  const end = contentStart + length
  if (end > limit) throw new DerError('element longer than its container')
  return { tag, start: offset, contentStart, end }
}

/** Reads an element and checks its tag. */
export function expectTlv (buf: Uint8Array, offset: number, limit: number, tag: number, what: string): Tlv {
  const tlv = readTlv(buf, offset, limit)
  if (tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`)
  return tlv
}

/** The elements inside a constructed one, which must fill it exactly; at most `max` of them. */
export function children (buf: Uint8Array, parent: Tlv, max = Infinity): Tlv[] {
  const out: Tlv[] = []
  let offset = parent.contentStart
  while (offset < parent.end) {
    if (out.length >= max) throw new DerError(`more than ${max} elements`)
    const tlv = readTlv(buf, offset, parent.end)
    out.push(tlv)
    offset = tlv.end
  }
  return out
}

export function content (buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.contentStart, tlv.end)
}

/** The whole element, header included (for byte comparisons and signatures). */
export function whole (buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.start, tlv.end)
}

/** An OBJECT IDENTIFIER as dotted text. */
export function readOid (buf: Uint8Array, tlv: Tlv): string {
  const bytes = content(buf, tlv)
  if (bytes.length === 0 || bytes.length > 64) throw new DerError('bad object identifier length')
  const parts: number[] = []
  let value = 0
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError('object identifier arc too large')
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80)
      else parts.push(value)
      value = 0
    }
  }
  if ((bytes.at(-1)! & 0x80) !== 0) throw new DerError('truncated object identifier')
  return parts.join('.')
}

/** A non-negative INTEGER's magnitude as lower-case hex without leading zeros (how serials are compared). */
export function readUnsignedHex (buf: Uint8Array, tlv: Tlv, maxOctets: number): string {
  const bytes = content(buf, tlv)
  if (bytes.length === 0 || bytes.length > maxOctets) throw new DerError(`integer of ${bytes.length} octets (at most ${maxOctets})`)
  if ((bytes[0]! & 0x80) !== 0) throw new DerError('negative integer')
  return Buffer.from(bytes).toString('hex').replace(/^0+(?=.)/, '')
}

/** UTCTime or GeneralizedTime (the `Z` forms DER requires) as a Date. */
export function readTime (buf: Uint8Array, tlv: Tlv): Date {
  const text = Buffer.from(content(buf, tlv)).toString('latin1')
  const match = tlv.tag === TAG.utcTime
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : tlv.tag === TAG.generalizedTime ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null
  if (match == null) throw new DerError(`bad time "${text.slice(0, 32)}"`)
  let year = Number(match[1])
  if (tlv.tag === TAG.utcTime) year += year < 50 ? 2000 : 1900
  const date = new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])))
  if (Number.isNaN(date.getTime())) throw new DerError(`bad time "${text}"`)
  return date
}

/** DER of a non-negative INTEGER (a CRL number). */
export function encodeUnsigned (value: bigint): Uint8Array<ArrayBuffer> {
  if (value < 0n) throw new RangeError('negative')
  let hex = value.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  // a set top bit would read as negative: prefix a zero octet
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`
  const body = Buffer.from(hex, 'hex')
  if (body.length > 127) throw new RangeError('integer too large')
  return Uint8Array.from([TAG.integer, body.length, ...body])
}
