import { randomBytes } from 'node:crypto'

/** Random bytes drawn at once: one system call per 512 task ids instead of one per id (every submit makes one). */
const POOL_BYTES = 4096
let pool = Buffer.alloc(0)
let offset = 0

/** `bytes` random bytes as hex (from the CSPRNG, like randomBytes: ids stay unguessable). */
export function randomHex (bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes))
    offset = 0
  }
  const hex = pool.toString('hex', offset, offset + bytes)
  // each byte serves once
  pool.fill(0, offset, offset + bytes)
  offset += bytes
  return hex
}
