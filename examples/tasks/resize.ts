// A task: scales an image's size, reporting progress, and refuses a bad scale (the error, with this
// file's line, reaches whoever submitted it). A stage module: a default export, no import of gridd needed.
import type { TaskContext } from '../../src/index.ts'

interface Size { width: number, height: number, scale: number }

export default async function resize ({ width, height, scale }: Size, ctx: TaskContext): Promise<{ width: number, height: number }> {
  if (!(scale > 0)) throw new RangeError(`scale must be above 0, got ${scale}`)
  for (let row = 0; row < 4; row++) {
    ctx.signal.throwIfAborted()
    ctx.progress(`${(row + 1) * 25}%`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return { width: Math.round(width * scale), height: Math.round(height * scale) }
}
