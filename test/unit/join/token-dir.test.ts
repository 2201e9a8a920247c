import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { mkdtemp, readFile, rename, rm, rmdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir } from '../../../src/certs/files.ts'
import { buildProgram } from '../../../src/cli/index.ts'
import { readIssuerFiles } from '../../../src/join/files.ts'
import { parseToken } from '../../../src/join/token.ts'
import { ERR_CONFIG } from '../../../src/errors.ts'

/** `grid certs token create --dir DIR`: the token printed on stdout. */
async function createToken (dir: string, ...flags: string[]): Promise<string> {
  const out: string[] = []
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(chunk => { out.push(String(chunk)); return true })
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    await buildProgram().parseAsync(['certs', 'token', 'create', '--dir', dir, ...flags], { from: 'user' })
  } finally {
    stdout.mockRestore()
    stderr.mockRestore()
  }
  return out.join('').trim()
}

describe('grid certs token create keeps the token where the issuer (--ca-key FILE) reads it', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-token-dir-'))
    await initCertsDir(dir)
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a CA key in ca/ca.key (grid certs init): the issuer started with --ca-key DIR/ca/ca.key finds the token', async () => {
    const token = parseToken(await createToken(dir))
    const { tokens } = await readIssuerFiles(join(dir, 'ca', 'ca.key'), await readFile(join(dir, 'ca.crt'), 'utf8'))
    expect((await tokens.list()).map(t => t.id)).toContain(token.id)
  })

  it('a CA key beside ca.crt (the layout before roles): the issuer started with --ca-key DIR/ca.key finds the token', async () => {
    await rename(join(dir, 'ca', 'ca.key'), join(dir, 'ca.key'))
    await rmdir(join(dir, 'ca'))
    const token = parseToken(await createToken(dir))
    const { tokens } = await readIssuerFiles(join(dir, 'ca.key'), await readFile(join(dir, 'ca.crt'), 'utf8'))
    expect((await tokens.list()).map(t => t.id)).toContain(token.id)
  })

  it('no CA key in --dir (a node\'s certificates): refused, no token made that no issuer would ever read', async () => {
    await rm(join(dir, 'ca'), { recursive: true })
    const err = await createToken(dir).then(() => undefined, (e: unknown) => e)
    // bad input, as for `grid certs issue` with no CA: exit 2, naming --dir
    expect(err).toMatchObject({ code: ERR_CONFIG, message: expect.stringMatching(/^--dir: no CA key/) })
    expect(existsSync(join(dir, 'ca', 'tokens.json'))).toBe(false)
  })

  it('--role client is refused (exit 2, naming --role and what to run instead): a node joining with it would be a member too, never the restricted client asked for', async () => {
    const err = await createToken(dir, '--role', 'agent,client').then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: ERR_CONFIG, message: expect.stringMatching(/^--role: a join token makes grid nodes.*grid certs issue <name> --role client/) })
    expect(existsSync(join(dir, 'ca', 'tokens.json'))).toBe(false)
    // the roles a node may have still make a token
    expect(parseToken(await createToken(dir, '--role', 'agent,admin')).id).toMatch(/\S/)
  })

  it('list and revoke with a --dir holding no CA key (a mistyped one): refused naming --dir, and no ca/ made in it', async () => {
    const elsewhere = join(dir, 'not-the-ca')
    for (const args of [['list'], ['revoke', '0123456789abcdef']]) {
      const err = await buildProgram().parseAsync(['certs', 'token', ...args, '--dir', elsewhere], { from: 'user' }).then(() => undefined, (e: unknown) => e)
      expect(err, args[0]).toMatchObject({ code: ERR_CONFIG, message: expect.stringMatching(/^--dir: no CA key/) })
      expect(existsSync(elsewhere), args[0]).toBe(false)
    }
  })

  it('revoke of a token id the store does not hold: refused as bad input (exit 2), naming the id', async () => {
    const err = await buildProgram().parseAsync(['certs', 'token', 'revoke', '0123456789abcdef', '--dir', dir], { from: 'user' }).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: ERR_CONFIG, message: expect.stringMatching(/^id: no token 0123456789abcdef/) })
  })
})
