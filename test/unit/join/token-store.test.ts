import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenStore, tokenRefusal } from '../../../src/join/token-store.ts'
import { FailureLimiter } from '../../../src/join/rate-limit.ts'
import { parseTtl } from '../../../src/cli/commands/token.ts'

describe('TokenStore', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'gridd-tokens-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('counts uses under one lock: 10 concurrent consumes of a 3-use token admit exactly 3', async () => {
    const store = new TokenStore(dir)
    const token = await store.create({ roles: ['agent'], ttlMs: 60_000, uses: 3 })
    const results = await Promise.all(Array.from({ length: 10 }, async () => await store.consume(token.id, () => undefined)))
    expect(results.filter(r => !('refused' in r)).length).toBe(3)
    expect(results.filter(r => 'refused' in r && r.refused === 'spent').length).toBe(7)
    expect((await store.list())[0]!.used).toBe(3)
  })

  it('two stores over one directory (two processes: an issuer and `grid certs token`) share the lock: a single-use token is used once', async () => {
    for (let round = 0; round < 5; round++) {
      const stores = Array.from({ length: 4 }, () => new TokenStore(dir))
      const token = await stores[0]!.create({ roles: ['agent'], ttlMs: 60_000, uses: 1 })
      const results = await Promise.all(stores.map(async store => await store.consume(token.id, () => undefined)))
      expect(results.filter(r => !('refused' in r)).length, `round ${round}`).toBe(1)
      expect((await stores[0]!.list()).find(t => t.id === token.id)!.used).toBe(1)
    }
  })

  it('a create by another store while a token is consumed keeps the use, and a revoke is not overwritten', async () => {
    const issuer = new TokenStore(dir)
    const cli = new TokenStore(dir)
    for (let round = 0; round < 5; round++) {
      const token = await issuer.create({ roles: ['agent'], ttlMs: 60_000, uses: 5 })
      const victim = await issuer.create({ roles: ['agent'], ttlMs: 60_000, uses: 5 })
      const [, created, revoked] = await Promise.all([
        issuer.consume(token.id, () => undefined),
        cli.create({ roles: ['member'], ttlMs: 60_000, uses: 1 }),
        cli.revoke(victim.id),
        issuer.consume(victim.id, () => undefined).catch(() => undefined)
      ])
      const tokens = await issuer.list()
      expect(tokens.find(t => t.id === token.id)!.used, `round ${round}`).toBe(1)
      expect(tokens.some(t => t.id === created.id)).toBe(true)
      expect(revoked).toBe(true)
      expect(tokens.find(t => t.id === victim.id)!.revoked).toBe(true)
    }
  })

  it('a refusing check (a bad MAC) counts no use', async () => {
    const store = new TokenStore(dir)
    const token = await store.create({ roles: ['agent'], ttlMs: 60_000, uses: 1 })
    expect(await store.consume(token.id, () => 'bad token secret')).toEqual({ refused: 'bad token secret' })
    expect(await store.consume('0123456789abcdef', () => undefined)).toEqual({ refused: 'unknown token' })
    expect((await store.list())[0]!.used).toBe(0)
  })

  it('drops tokens a day after they expired, spent and revoked ones included, and keeps the rest', async () => {
    const store = new TokenStore(dir)
    const now = Date.now()
    const old = await store.create({ roles: ['agent'], ttlMs: 1000, uses: 1 }, now - 2 * 86_400_000)
    const revoked = await store.create({ roles: ['agent'], ttlMs: 3_600_000, uses: 1 }, now)
    await store.revoke(revoked.id)
    await store.create({ roles: ['member'], ttlMs: 3_600_000, uses: 1 }, now)
    const ids = (await store.list()).map(t => t.id)
    expect(ids).not.toContain(old.id)
    expect(ids).toContain(revoked.id)
    expect(ids.length).toBe(2)
    expect(tokenRefusal((await store.list()).find(t => t.id === revoked.id)!)).toBe('revoked')
  })

  it('refuses a file that is not a tokens file', async () => {
    await writeFile(join(dir, 'tokens.json'), JSON.stringify({ v: 1, tokens: [{ id: 'x' }] }))
    await expect(new TokenStore(dir).list()).rejects.toThrow(/not a tokens file/)
  })
})

describe('FailureLimiter', () => {
  it('blocks a source after maxFailures in its window, and lets it in again once the window has passed', () => {
    const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 1000 })
    limiter.fail('a', 0)
    expect(limiter.blocked('a', 10)).toBe(false)
    limiter.fail('a', 20)
    expect(limiter.blocked('a', 30)).toBe(true)
    expect(limiter.blocked('b', 30)).toBe(false)
    expect(limiter.blocked('a', 1001)).toBe(false)
  })

  it('tracks at most maxSources addresses', () => {
    const limiter = new FailureLimiter({ maxFailures: 1, windowMs: 60_000, maxSources: 2 })
    for (const source of ['a', 'b', 'c']) limiter.fail(source, 0)
    expect(limiter.blocked('a', 1)).toBe(false)
    expect(limiter.blocked('c', 1)).toBe(true)
  })
})

describe('--ttl', () => {
  it('reads 90s, 30m, 1h, 7d and refuses anything else', () => {
    expect([parseTtl('90s'), parseTtl('30m'), parseTtl('1h'), parseTtl('7d')]).toEqual([90_000, 1_800_000, 3_600_000, 604_800_000])
    for (const bad of ['0s', '1y', '1.5h', 'h', '400d']) expect(() => parseTtl(bad), bad).toThrow(/expected a duration/)
  })
})
