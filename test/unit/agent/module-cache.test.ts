import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, readdir, rm, stat, writeFile, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DISK_BLOCK_BYTES, ModuleCache } from '../../../src/agent/module-cache.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { resolveLogger } from '../../../src/logger.ts'

const log = resolveLogger()
/** A module of `bytes` bytes whose hash is its name. */
/** Room for two small modules (each counted as a whole block), not three. */
const QUOTA = 2.5 * DISK_BLOCK_BYTES
const source = (tag: string, bytes = 100): string => `export default ${JSON.stringify(tag)}\n//`.padEnd(bytes, 'x')

describe('ModuleCache (real files in a temp dir)', () => {
  let dataDir: string
  let cache: ModuleCache
  const files = async (): Promise<string[]> => (await readdir(join(dataDir, 'modules'))).sort()

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-module-cache-'))
    cache = new ModuleCache(dataDir, { quotaBytes: QUOTA }, log)
    await cache.start()
  })

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true })
  })

  it('stores a shipped module under its hash, mode 0640, in a 0750 dir; a wrong hash is refused and writes nothing', async () => {
    const text = source('a')
    const stored = await cache.store(sha256(text), text)
    expect(stored).toEqual({ path: join(dataDir, 'modules', `${sha256(text)}.mjs`), created: true })
    expect((await stat(stored.path)).mode & 0o777).toBe(0o640)
    expect((await stat(join(dataDir, 'modules'))).mode & 0o777).toBe(0o750)
    await expect(cache.store('0'.repeat(64), text)).rejects.toMatchObject({ code: 'ERR_SPAWN_REFUSED' })
    expect(await files()).toEqual([`${sha256(text)}.mjs`])
  })

  it('evicts the least recently used unpinned module to stay under the quota; a pinned one stays', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map(t => source(t))
    await cache.store(sha256(a!), a!)
    await cache.store(sha256(b!), b!)
    cache.release(sha256(b!))
    // a is still pinned (its worker runs): b goes, although a was used earlier
    await cache.store(sha256(c!), c!)
    expect(cache.list()).toEqual([sha256(a!), sha256(c!)])
    cache.release(sha256(a!))
    cache.release(sha256(c!))
    // a used again: c is now the least recent
    expect(await cache.acquire(sha256(a!))).toBeDefined()
    cache.release(sha256(a!))
    await cache.store(sha256(b!), b!)
    expect(cache.list()).toEqual([sha256(a!), sha256(b!)])
    expect(await files()).toEqual([`${sha256(a!)}.mjs`, `${sha256(b!)}.mjs`].sort())
  })

  it('refuses a module that cannot fit beside the pinned ones', async () => {
    const [a, b] = ['a', 'b'].map(t => source(t, 1.5 * DISK_BLOCK_BYTES))
    await cache.store(sha256(a!), a!)
    await expect(cache.store(sha256(b!), b!)).rejects.toMatchObject({ code: 'ERR_SPAWN_REFUSED' })
    expect(await files()).toEqual([`${sha256(a!)}.mjs`])
  })

  it('counts each module as whole disk blocks: many distinct tiny bundles (a hostile member\'s) cannot fill the quota with files', async () => {
    const tiny = Array.from({ length: 10 }, (_, i) => `export default ${i}`)
    for (const text of tiny) {
      await cache.store(sha256(text), text)
      cache.release(sha256(text))
    }
    // 20 bytes each: counted by their bytes, all ten would fit in the quota (and a million in a real one)
    expect(await files()).toHaveLength(2)
    expect(cache.list()).toEqual(tiny.slice(-2).map(t => sha256(t)))
    expect(cache.bytes).toBe(2 * DISK_BLOCK_BYTES)
  })

  it('drops a cached file whose content no longer matches its name', async () => {
    const text = source('a')
    const { path } = await cache.store(sha256(text), text)
    cache.release(sha256(text))
    await writeFile(path, source('tampered'))
    expect(await cache.acquire(sha256(text))).toBeUndefined()
    expect(await files()).toEqual([])
  })

  it('discard removes what this spawn wrote, unless another worker holds it', async () => {
    const text = source('a')
    await cache.store(sha256(text), text)
    expect(await cache.acquire(sha256(text))).toBeDefined()
    await cache.discard(sha256(text))
    expect(await files()).toHaveLength(1)
    await cache.discard(sha256(text))
    expect(await files()).toEqual([])
  })

  it('a restarted cache indexes what is there (oldest use first), removes strays and keeps to its quota', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map(t => source(t))
    for (const text of [a!, b!]) { await cache.store(sha256(text), text); cache.release(sha256(text)) }
    await writeFile(join(dataDir, 'modules', `${sha256(c!)}.mjs.1234.tmp`), c!)
    await writeFile(join(dataDir, 'modules', 'not-a-module.txt'), 'x')
    const old = new Date(Date.now() - 60_000)
    await utimes(join(dataDir, 'modules', `${sha256(b!)}.mjs`), old, old)
    const restarted = new ModuleCache(dataDir, { quotaBytes: QUOTA }, log)
    await restarted.start()
    expect(restarted.list()).toEqual([sha256(b!), sha256(a!)])
    expect(await files()).toEqual([`${sha256(a!)}.mjs`, `${sha256(b!)}.mjs`].sort())
    await restarted.store(sha256(c!), c!)
    expect(restarted.list()).toEqual([sha256(a!), sha256(c!)])
  })
})
