import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Bytes in ArrayBuffers this process holds after a full collection: what is still referenced, not what awaits collection. */
export async function heldBytes (): Promise<number> {
  // twice, with a turn between: what a finalizer or a pending callback released the first time goes the second
  gc()
  await new Promise(resolve => setImmediate(resolve))
  gc()
  return process.memoryUsage().arrayBuffers
}
