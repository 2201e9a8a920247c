import type { Rng } from './rng.ts'

const encoder = new TextEncoder()

/** An unsigned varint (the length prefix of every gridd and libp2p frame); exact up to 2^53. */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  let rest = n
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
  return Uint8Array.from(out)
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

/** A well-formed length-prefixed frame. */
export function frame (body: Uint8Array | string): Uint8Array {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body
  return concat(varint(bytes.byteLength), bytes)
}

/** How a frame is broken on the wire. */
export type FrameShape = 'whole' | 'truncated' | 'oversized-prefix' | 'overlong-varint' | 'empty' | 'garbage' | 'doubled'

export const FRAME_SHAPES: readonly FrameShape[] = ['whole', 'truncated', 'oversized-prefix', 'overlong-varint', 'empty', 'garbage', 'doubled']

/** `body` framed as `shape` says (most shapes keep the body, so the reader gets past the prefix). */
export function shapedFrame (rng: Rng, body: Uint8Array | string, shape: FrameShape): Uint8Array {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body
  switch (shape) {
    case 'whole': return frame(bytes)
    // the prefix promises the whole body; half of it comes, then the stream ends
    case 'truncated': return concat(varint(bytes.byteLength), bytes.subarray(0, Math.floor(bytes.byteLength / 2)))
    // a prefix far beyond any limit (2^31 .. 2^53), then a little data
    case 'oversized-prefix': return concat(varint(rng.pick([2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER, 16 * 1024 * 1024 + 1])), bytes.subarray(0, 64))
    // a varint that never ends within the allowed length
    case 'overlong-varint': return concat(new Uint8Array(12).fill(0xff), bytes.subarray(0, 16))
    case 'empty': return varint(0)
    case 'garbage': return rng.bytes(1 + rng.int(512))
    case 'doubled': return concat(frame(bytes), frame(bytes))
  }
}
