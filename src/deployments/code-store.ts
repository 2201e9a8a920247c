import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import * as v from 'valibot'
import type { Channel } from '../channels/channel.ts'
import { sha256 } from '../wire/module-ref.ts'
import { CHUNK_CHARS, KEY, chunkSchema, codeHeadSchema } from './types.ts'
import { DeploymentCodeError } from '../errors.ts'

/**
 * Deployment code in the deployments channel, content-addressed: `c/<sha256>`
 * holds how many chunks there are, `c/<sha256>/<i>` the chunks (a channel value
 * is at most 64 KiB). Any member assembles it, checks the hash, and writes it to
 * its own cache dir as `<sha256>.mjs` to import or to ship as a stage; `prune` deletes the files
 * no deployment uses any more (each version deployed would otherwise leave its files for good).
 */
export class CodeStore {
  private readonly channel: Channel
  private readonly dir: string
  /** Writes and prunes of the dir, one at a time: a prune never deletes a file a write has just made and not yet handed over. */
  private files: Promise<unknown> = Promise.resolve()

  constructor (channel: Channel, dir: string) {
    this.channel = channel
    this.dir = dir
  }

  /** Stores `source` under its hash (chunks first, the head last: a reader never sees a head without its chunks). */
  put (source: string): string {
    const hash = sha256(source)
    if (v.is(codeHeadSchema, this.channel.get(KEY.code(hash)))) return hash
    const chunks = Math.max(1, Math.ceil(source.length / CHUNK_CHARS))
    for (let i = 0; i < chunks; i++) this.channel.set(KEY.chunk(hash, i), source.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS))
    this.channel.set(KEY.code(hash), { chunks, chars: source.length })
    return hash
  }

  /** The code stored under `hash`; DeploymentCodeError while a part has not replicated here, or when it does not match. */
  get (hash: string): string {
    const head = v.safeParse(codeHeadSchema, this.channel.get(KEY.code(hash)))
    if (!head.success) throw new DeploymentCodeError(hash, 'not in the deployments channel (yet)')
    const parts: string[] = []
    for (let i = 0; i < head.output.chunks; i++) {
      const chunk = v.safeParse(chunkSchema, this.channel.get(KEY.chunk(hash, i)))
      if (!chunk.success) throw new DeploymentCodeError(hash, `chunk ${i + 1} of ${head.output.chunks} is missing here (yet)`)
      parts.push(chunk.output)
    }
    const source = parts.join('')
    if (sha256(source) !== hash) throw new DeploymentCodeError(hash, 'the stored chunks do not match the hash')
    return source
  }

  /** Deletes the code stored under `hash`. */
  remove (hash: string): void {
    const head = v.safeParse(codeHeadSchema, this.channel.get(KEY.code(hash)))
    this.channel.delete(KEY.code(hash))
    if (head.success) for (let i = 0; i < head.output.chunks; i++) this.channel.delete(KEY.chunk(hash, i))
  }

  /** The code as a local file `<dir>/<hash>.mjs` (written once; its name is its content's hash). */
  async file (hash: string): Promise<string> {
    return await this.serially(async () => await this.write(hash))
  }

  /**
   * Deletes the files in the dir but those of `keep()` (asked once the dir is listed): a replaced
   * version's, a removed deployment's, and staging files a crash left. A file deleted here that is
   * needed again is written anew from the channel.
   */
  async prune (keep: () => ReadonlySet<string>): Promise<void> {
    await this.serially(async () => {
      const found = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return []; throw err })
      const kept = keep()
      for (const file of found) if (!kept.has(file.replace(/\.mjs$/, ''))) await rm(join(this.dir, file), { force: true, recursive: true })
    })
  }

  private async serially<T> (work: () => Promise<T>): Promise<T> {
    const done = this.files.then(work)
    this.files = done.catch(() => {})
    return await done
  }

  private async write (hash: string): Promise<string> {
    const path = join(this.dir, `${hash}.mjs`)
    if (await stat(path).then(s => s.isFile(), () => false)) return path
    const source = this.get(hash)
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const staging = `${path}.${randomBytes(6).toString('hex')}.tmp`
    await writeFile(staging, source, { mode: 0o600 })
    await rename(staging, path)
    return path
  }
}
