import { chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SpawnRefusedError } from '../errors.ts'
import { sha256 } from '../wire/module-ref.ts'
import type { Logger } from '../logger.ts'

const NAME = /^([0-9a-f]{64})\.mjs$/
/**
 * What a file is charged against the quota: its size rounded up to a filesystem block. Charged
 * by its bytes alone, a member shipping many distinct tiny bundles (a few bytes each, stored as
 * one file each) could make the cache hold the quota in files: millions, each a block and an inode.
 */
export const DISK_BLOCK_BYTES = 4096

function charged (bytes: number): number {
  return Math.max(1, Math.ceil(bytes / DISK_BLOCK_BYTES)) * DISK_BLOCK_BYTES
}

interface Entry {
  /** Its size rounded up to a block (see DISK_BLOCK_BYTES). */
  bytes: number
  /** Last spawn that used it (ms): the least recent is evicted first. */
  usedAt: number
  /** Workers started from it and still running: never evicted from under them. */
  pins: number
}

export interface ModuleCacheInit {
  /** Most bytes of shipped modules kept, each counted in whole blocks (DISK_BLOCK_BYTES); the least recently used go first. */
  quotaBytes: number
  /** The group that may read the cache (the worker user's), else the agent's own. */
  readerGid?: number
}

/**
 * The agent's content-addressed cache of shipped stage bundles (`<dataDir>/modules/<sha256>.mjs`),
 * bounded by a quota with least-recently-used eviction. A file is re-hashed before every use and
 * dropped if it no longer matches its name. Only the agent writes here (dir 0750, files 0640,
 * group: the worker user's, so workers can read but not write).
 */
export class ModuleCache {
  readonly dir: string
  private readonly quotaBytes: number
  private readonly readerGid?: number
  private readonly log: Logger
  private readonly entries = new Map<string, Entry>()
  private storing: Promise<unknown> = Promise.resolve()

  constructor (dataDir: string, init: ModuleCacheInit, log: Logger) {
    this.dir = join(dataDir, 'modules')
    this.quotaBytes = init.quotaBytes
    this.readerGid = init.readerGid
    this.log = log
  }

  /** Creates the dir (found out now if it cannot be written) and indexes what an earlier agent left, oldest use first. */
  async start (): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 })
    await this.restrict(this.dir, 0o750)
    const found: Array<[string, Entry]> = []
    for (const file of await readdir(this.dir)) {
      const path = join(this.dir, file)
      const name = NAME.exec(file)?.[1]
      const stat = await lstat(path).catch(() => undefined)
      // staging files of a crashed agent, and anything not ours
      if (name == null || stat == null || !stat.isFile()) {
        await rm(path, { force: true, recursive: true })
        continue
      }
      await this.restrict(path, 0o640)
      found.push([name, { bytes: charged(stat.size), usedAt: stat.atimeMs, pins: 0 }])
    }
    found.sort((a, b) => a[1].usedAt - b[1].usedAt)
    for (const [name, entry] of found) this.entries.set(name, entry)
    await this.evict(0)
  }

  /** Bytes held now, in whole blocks. */
  get bytes (): number {
    let total = 0
    for (const entry of this.entries.values()) total += entry.bytes
    return total
  }

  /** Hashes cached, least recently used first. */
  list (): string[] {
    return [...this.entries.keys()]
  }

  pathOf (hash: string): string {
    return join(this.dir, `${hash}.mjs`)
  }

  /**
   * The cached bundle's path if it is here and still hashes to its name (else it is dropped), marked
   * used and pinned for the caller (`release` it when its worker is gone).
   */
  async acquire (hash: string): Promise<string | undefined> {
    if (!this.entries.has(hash)) return undefined
    const path = this.pathOf(hash)
    const text = await readFile(path, 'utf8').catch(() => undefined)
    const entry = this.entries.get(hash)
    if (entry == null) return undefined
    if (text == null || sha256(text) !== hash) {
      this.log.warn({ module: hash, found: text == null ? 'missing' : 'changed' }, 'cached module no longer matches its hash: dropped')
      await this.drop(hash)
      return undefined
    }
    this.touch(hash, entry)
    entry.pins++
    return path
  }

  /**
   * Writes a shipped bundle (its hash checked first), evicting the least recently used unpinned
   * modules to stay under the quota; refuses (SpawnRefusedError) one that cannot fit. Returns its
   * path, pinned for the caller, and whether this call wrote it. Stores run one at a time, so two
   * cannot both count the same room.
   */
  async store (hash: string, source: string): Promise<{ path: string, created: boolean }> {
    if (sha256(source) !== hash) throw new SpawnRefusedError('shipped module source does not match its sha256')
    const stored = this.storing.then(async () => await this.write(hash, source))
    this.storing = stored.catch(() => {})
    return await stored
  }

  private async write (hash: string, source: string): Promise<{ path: string, created: boolean }> {
    const bytes = charged(Buffer.byteLength(source))
    const existing = await this.acquire(hash)
    if (existing != null) return { path: existing, created: false }
    if (!await this.evict(bytes)) throw new SpawnRefusedError(`the module cache cannot take ${bytes} more bytes (counted in ${DISK_BLOCK_BYTES}-byte blocks; quota ${this.quotaBytes}, ${this.pinnedBytes()} held by running workers)`)
    const path = this.pathOf(hash)
    // write-then-rename: a concurrent spawn never imports a half-written file
    const staging = `${path}.${randomBytes(4).toString('hex')}.tmp`
    try {
      await writeFile(staging, source, { mode: 0o640, flag: 'wx' })
      await this.restrict(staging, 0o640)
      await rename(staging, path)
    } catch (err) {
      await rm(staging, { force: true })
      throw err
    }
    this.entries.set(hash, { bytes, usedAt: Date.now(), pins: 1 })
    return { path, created: true }
  }

  /** The caller's worker is gone: the module may be evicted again. */
  release (hash: string): void {
    const entry = this.entries.get(hash)
    if (entry != null) entry.pins = Math.max(0, entry.pins - 1)
  }

  /** Releases the caller's pin and removes the module unless another worker holds it (a refused spawn leaves nothing behind). */
  async discard (hash: string): Promise<void> {
    this.release(hash)
    if ((this.entries.get(hash)?.pins ?? 0) === 0) await this.drop(hash)
  }

  private async drop (hash: string): Promise<void> {
    this.entries.delete(hash)
    await rm(this.pathOf(hash), { force: true })
  }

  /** Evicts unpinned modules, least recently used first, until `incoming` more bytes fit; false if they cannot. */
  private async evict (incoming: number): Promise<boolean> {
    let total = this.bytes
    for (const [hash, entry] of [...this.entries]) {
      if (total + incoming <= this.quotaBytes) break
      if (entry.pins > 0) continue
      this.entries.delete(hash)
      total -= entry.bytes
      this.log.info({ module: hash, bytes: entry.bytes }, 'module evicted from the cache (least recently used)')
      await rm(this.pathOf(hash), { force: true })
    }
    return total + incoming <= this.quotaBytes
  }

  private pinnedBytes (): number {
    let total = 0
    for (const entry of this.entries.values()) if (entry.pins > 0) total += entry.bytes
    return total
  }

  /**
   * Map order is use order (most recent last). Files are never touched to record it (a cached
   * file stays exactly as written); across restarts the order comes from the files' atimes,
   * which the kernel keeps roughly (relatime).
   */
  private touch (hash: string, entry: Entry): void {
    entry.usedAt = Date.now()
    this.entries.delete(hash)
    this.entries.set(hash, entry)
  }

  private async restrict (path: string, mode: number): Promise<void> {
    if (this.readerGid != null) await chown(path, process.getuid?.() ?? -1, this.readerGid)
    await chmod(path, mode)
  }
}
