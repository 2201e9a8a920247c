import { randomBytes } from 'node:crypto'

/** Random bytes drawn at once, as hex: one system call and one conversion per 512 task ids instead of one of each per id (every submit makes one). */
const POOL_BYTES = 4096
let pool = ''
let offset = 0

/** `bytes` random bytes as hex (from the CSPRNG, like randomBytes: ids stay unguessable). */
export function randomHex (bytes: number): string {
  const chars = 2 * bytes
  if (offset + chars > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes)).toString('hex')
    offset = 0
  }
  // each character serves once
  const hex = pool.slice(offset, offset + chars)
  offset += chars
  return hex
}
