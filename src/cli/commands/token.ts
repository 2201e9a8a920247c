import { Command, InvalidArgumentError, Option } from 'commander'
import { join, resolve } from 'node:path'
import { readFile } from 'node:fs/promises'
import { intOption } from '../options.ts'
import { checkKeyFile } from '../key-file.ts'
import { parseRoles } from '../../trust/roles.ts'
import { ConfigError } from '../../errors.ts'
import type { TokenStore } from '../../join/token-store.ts'

interface TokenFlags {
  dir: string
  role: string
  ttl: number
  uses: number
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `30m`, `1h`, `7d` as milliseconds (at most 365 days). */
export function parseTtl (text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim())
  const ms = match == null ? NaN : Number(match[1]) * UNIT_MS[match[2]!]!
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > 365 * UNIT_MS.d!) throw new InvalidArgumentError(`expected a duration like 90s, 30m, 1h or 7d (at most 365d), got "${text}"`)
  return ms
}

/**
 * Where the tokens of certificates directory `base` are kept: beside its CA key, where the issuer (--ca-key FILE)
 * reads them. A --dir without the key is bad input (exit 2), as for `grid certs issue`: no token is made there that
 * no issuer would read, and a mistyped --dir neither lists nothing as if it held no tokens nor gets a `ca/` made in it.
 */
async function caKeyDir (base: string): Promise<string> {
  const { caKeyDirOf } = await import('../../certs/files.ts')
  const keyDir = caKeyDirOf(base)
  if (keyDir == null) throw new ConfigError('--dir', `no CA key in ${base} (ca/ca.key): a token is kept beside the CA key, where the issuer (grid node --ca-key FILE) reads it; run this where the key is, with --dir naming its certificates directory`)
  return keyDir
}

/** The token store beside the CA key of `base` (see caKeyDir), or in `keyDir` already found. */
async function tokenStore (base: string, keyDir?: string): Promise<TokenStore> {
  const { TokenStore } = await import('../../join/token-store.ts')
  return new TokenStore(keyDir ?? await caKeyDir(base))
}

/** `grid certs token create|list|revoke`: join tokens, kept beside the CA key in `<dir>/ca/tokens.json`. */
export function tokenCommand (): Command {
  const cmd = new Command('token').description('join tokens: a node with one gets its certificate from a node started with --ca-key (grid node --join)')
  const dir = (): Option => new Option('--dir <dir>', 'certificates directory holding the CA (ca.crt, ca/ca.key)').default('certs')
  cmd.addCommand(new Command('create')
    .description('make a token; prints it (it carries a secret: hand it over like a password)')
    .addOption(dir())
    .option('--role <roles>', 'roles of the certificates it gets, comma-separated: agent, member, admin (member is always added: every node joins membership)', 'agent')
    .addOption(new Option('--ttl <duration>', 'how long it can be used: 90s, 30m, 1h, 7d').default(3_600_000, '1h').argParser(parseTtl))
    .addOption(intOption('--uses <n>', 'how many nodes may join with it', 1, 100_000).default(1))
    .action(async (flags: TokenFlags) => {
      // a token brings a node (`grid node --join`) in: every node needs member (DESIGN §11). A client
      // role would ride on member's rights, never be the restricted identity asked for: refused
      const asked = parseRoles(flags.role)
      if (asked.includes('client')) throw new ConfigError('--role', `a join token makes grid nodes, and every node is a member: "client" would get member's rights with it. For the CLI or an app that only submits work, issue a client certificate on the CA's machine: grid certs issue <name> --role client --dir ${flags.dir}`)
      const roles = [...new Set([...asked, 'member' as const])]
      const base = resolve(flags.dir)
      const { caHashOf } = await import('../../join/files.ts')
      const keyDir = await caKeyDir(base)
      await checkKeyFile(join(keyDir, 'ca.key'))
      const caHash = caHashOf(await readFile(join(base, 'ca.crt'), 'utf8').catch(() => { throw new ConfigError('--dir', `no CA certificate in ${base}; run \`grid certs init --dir ${flags.dir}\` first`) }))
      const token = await (await tokenStore(base, keyDir)).create({ roles, ttlMs: flags.ttl, uses: flags.uses })
      const { formatToken } = await import('../../join/token.ts')
      process.stdout.write(`${formatToken({ id: token.id, secret: token.secret, caHash })}\n`)
      process.stderr.write(`token ${token.id}: roles ${roles.join(',')}, ${flags.uses} use(s), expires ${new Date(token.expiresAt).toISOString()}; join with: grid node --join <token> --peer <a node started with --ca-key>\n`)
    }))
  cmd.addCommand(new Command('list')
    .description('the tokens in --dir, with their state (never their secrets)')
    .addOption(dir())
    .action(async (flags: TokenFlags) => {
      const { tokenRefusal } = await import('../../join/token-store.ts')
      for (const t of await (await tokenStore(resolve(flags.dir))).list()) {
        process.stdout.write(`${t.id}  ${t.roles.join(',')}  used ${t.used}/${t.uses}  expires ${new Date(t.expiresAt).toISOString()}  ${tokenRefusal(t) ?? 'usable'}\n`)
      }
    }))
  cmd.addCommand(new Command('revoke')
    .description('revoke a token: a running issuer refuses it from its next request')
    .argument('<id>', 'the token id (the part after gridd1.)')
    .addOption(dir())
    .action(async (id: string, flags: TokenFlags) => {
      if (!await (await tokenStore(resolve(flags.dir))).revoke(id)) throw new ConfigError('id', `no token ${id} in ${resolve(flags.dir)} (\`grid certs token list\` shows them)`)
      process.stdout.write(`revoked token ${id}\n`)
    }))
  // a third level: the program's exitOverride reaches only two
  for (const sub of cmd.commands) sub.exitOverride()
  return cmd
}
