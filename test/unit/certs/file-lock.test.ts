import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { withFileLock } from '../../../src/certs/file-lock.ts'
import { ERR_FILE_LOCKED } from '../../../src/errors.ts'

describe('withFileLock', () => {
  let dir: string
  let lock: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-lock-'))
    lock = join(dir, 'x.lock')
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('runs one holder at a time and removes the lock after each, thrown or not', async () => {
    let inside = 0
    let most = 0
    const holder = async (i: number): Promise<number> => await withFileLock(lock, async () => {
      most = Math.max(most, ++inside)
      await new Promise(resolve => setTimeout(resolve, 2))
      inside--
      if (i % 3 === 0) throw new Error(`boom ${i}`)
      return i
    })
    const results = await Promise.allSettled(Array.from({ length: 12 }, async (_, i) => await holder(i)))
    expect(most).toBe(1)
    expect(results.filter(r => r.status === 'rejected').length).toBe(4)
    expect(await readdir(dir)).toEqual([])
  })

  it('gives up with ERR_FILE_LOCKED naming the holder while a live process holds it', async () => {
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'other' }))
    await expect(withFileLock(lock, async () => 1, { timeoutMs: 100 })).rejects.toMatchObject({ code: ERR_FILE_LOCKED, message: expect.stringContaining(`pid ${process.pid}`) })
    // not ours: left in place
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ nonce: 'other' })
  })

  it('takes over a lock left by a process that is gone, at once', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid
    await writeFile(lock, JSON.stringify({ pid: gone, host: hostname(), nonce: 'dead' }))
    expect(await withFileLock(lock, async () => 'mine', { timeoutMs: 1000, staleMs: 3_600_000 })).toBe('mine')
    expect(await readdir(dir)).toEqual([])
  })

  it('takes over a lock older than staleMs (a holder on another host, or an empty lock file)', async () => {
    for (const text of [JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'old' }), '']) {
      await writeFile(lock, text)
      const old = new Date(Date.now() - 60_000)
      await utimes(lock, old, old)
      expect(await withFileLock(lock, async () => 'mine', { timeoutMs: 1000, staleMs: 30_000 })).toBe('mine')
    }
    // a fresh one on another host is waited for
    await writeFile(lock, JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'new' }))
    await expect(withFileLock(lock, async () => 1, { timeoutMs: 50 })).rejects.toMatchObject({ code: ERR_FILE_LOCKED })
  })

  it('a waiter stops waiting when its signal aborts', async () => {
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'other' }))
    await expect(withFileLock(lock, async () => 1, { signal: AbortSignal.timeout(30), timeoutMs: 10_000 })).rejects.toMatchObject({ name: 'TimeoutError' })
  })
})
