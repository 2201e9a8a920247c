import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import { SignJWT } from 'jose'
import { buildProgram } from '../../../src/cli/index.ts'
import { apiAddonOptions } from '../../../src/cli/api-flags.ts'
import type { ApiFlags } from '../../../src/cli/api-flags.ts'
import { jwtVerifier } from '../../../src/api/auth/jwt.ts'
import { ERR_CONFIG, ERR_UNAUTHORIZED } from '../../../src/errors.ts'

/** `grid node <args>` parsed as the CLI parses it; the action only captures the flags. */
async function nodeFlags (args: string[]): Promise<ApiFlags> {
  const program = buildProgram()
  const node: Command = program.commands.find(c => c.name() === 'node')!
  let flags: ApiFlags | undefined
  node.action((...params: unknown[]) => { flags = params.at(-2) as ApiFlags })
  await program.parseAsync(['node', ...args], { from: 'user' })
  return flags!
}

describe('--api-jwt-issuer and --api-jwt-audience', () => {
  let dir: string | undefined
  afterEach(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  it('the verifier built from the flags refuses a token for another audience or issuer, and takes one for this API', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-api-flags-'))
    const secret = randomBytes(32).toString('hex')
    await writeFile(join(dir, 'api.secret'), secret)
    const flags = await nodeFlags(['--api', '0', '--api-jwt-secret-file', 'api.secret', '--api-jwt-audience', 'gridd', '--api-jwt-issuer', 'https://idp.example'])
    const options = apiAddonOptions(flags, dir)
    const verify = await jwtVerifier(options!.jwt!)
    const token = async (claims: Record<string, unknown>): Promise<string> =>
      await new SignJWT({ sub: 'ci', scope: 'tasks:read', exp: Math.floor(Date.now() / 1000) + 300, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
    expect((await verify(await token({ aud: 'gridd', iss: 'https://idp.example' }))).subject).toBe('ci')
    await expect(verify(await token({ aud: 'other', iss: 'https://idp.example' }))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED, message: expect.stringMatching(/aud/) })
    await expect(verify(await token({ iss: 'https://idp.example' }))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED })
    await expect(verify(await token({ aud: 'gridd', iss: 'https://other.example' }))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED, message: expect.stringMatching(/iss/) })
  })

  it('unset: neither claim is checked (as before); set without a key source: refused, naming the flag', async () => {
    const unset = apiAddonOptions(await nodeFlags(['--api', '0', '--api-jwt-secret-file', 'api.secret']), '/')
    expect(unset!.jwt).toMatchObject({ issuer: undefined, audience: undefined })
    for (const flag of ['--api-jwt-audience', '--api-jwt-issuer']) {
      const flags = await nodeFlags(['--api', '0', flag, 'x'])
      expect(() => apiAddonOptions(flags, '/')).toThrow(expect.objectContaining({ code: ERR_CONFIG, option: flag.slice(2) }))
    }
  })

  it('an --api-* flag (or its variable) without --api is refused, naming it, instead of dropped without a word', async () => {
    const cases: string[][] = [['--api-tls'], ['--api-jwt-secret-file', 'api.secret'], ['--api-jwt-public-key-file', 'api.pub'], ['--api-jwks-file', 'jwks.json'],
      ['--api-jwt-issuer', 'x'], ['--api-jwt-audience', 'x'], ['--api-rate-limit', '10'], ['--api-hook', 'h=t:hook.secret']]
    for (const args of cases) {
      const flags = await nodeFlags(args)
      expect(() => apiAddonOptions(flags, '/'), args[0]).toThrow(expect.objectContaining({ code: ERR_CONFIG, option: args[0]!.slice(2), message: expect.stringMatching(/needs --api/) }))
    }
    // --api-host has a default: alone, as without any of them, there is simply no API
    expect(apiAddonOptions(await nodeFlags(['--api-host', '0.0.0.0']), '/')).toBeUndefined()
  })
})
