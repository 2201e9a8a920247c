import { join } from 'node:path'
import * as v from 'valibot'
import { LockedJsonFile } from '../certs/locked-json-file.ts'
import { JoinError } from '../errors.ts'
import { ROLES } from '../trust/roles.ts'
import type { Role } from '../trust/roles.ts'
import { newTokenId, newTokenSecret } from './token.ts'

/** Beside the CA key (`<certs>/ca/tokens.json`, mode 0600): a token's secret is as sensitive as the key it lets others use. */
export const TOKENS_FILE = 'tokens.json'
/** Held across each read-modify-write of the tokens file, by every process that changes it. */
export const TOKENS_LOCK_FILE = 'tokens.lock'

const record = v.object({
  id: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)),
  secret: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
  roles: v.pipe(v.array(v.picklist(ROLES)), v.minLength(1)),
  createdAt: v.number(),
  expiresAt: v.number(),
  uses: v.pipe(v.number(), v.integer(), v.minValue(1)),
  used: v.pipe(v.number(), v.integer(), v.minValue(0)),
  revoked: v.boolean()
})
const file = v.object({ v: v.literal(1), tokens: v.array(record) })

/** How long an expired token stays listed. */
const KEEP_EXPIRED_MS = 86_400_000

export type TokenRecord = v.InferOutput<typeof record>

export interface NewToken {
  roles: readonly Role[]
  ttlMs: number
  uses: number
}

/** Why a token cannot be used now, or undefined when it can. */
export function tokenRefusal (token: TokenRecord, now = Date.now()): string | undefined {
  if (token.revoked) return 'revoked'
  if (now >= token.expiresAt) return 'expired'
  if (token.used >= token.uses) return 'spent'
  return undefined
}

/**
 * The tokens file of a CA-key directory. Every read goes to the file, so a
 * `grid certs token revoke` takes effect on a running issuer at its next request.
 * Each change is a read-modify-write under a lock file shared with other
 * processes (an issuer consuming a token while `grid certs token create|revoke`
 * runs, or two issuers on one CA directory), so no change is lost and a
 * single-use token is used once; the file is replaced by write-then-rename.
 */
export class TokenStore {
  private readonly file: LockedJsonFile<v.InferOutput<typeof file>>

  constructor (caKeyDir: string) {
    this.file = new LockedJsonFile(join(caKeyDir, TOKENS_FILE), join(caKeyDir, TOKENS_LOCK_FILE), file, (reason, cause) => new JoinError(`${join(caKeyDir, TOKENS_FILE)} is not a tokens file: ${reason}`, { cause }))
  }

  get path (): string {
    return this.file.path
  }

  async list (): Promise<TokenRecord[]> {
    return (await this.file.read())?.tokens ?? []
  }

  async create (init: NewToken, now = Date.now()): Promise<TokenRecord> {
    return await this.update(tokens => {
      const token: TokenRecord = { id: newTokenId(), secret: newTokenSecret(), roles: [...new Set(init.roles)], createdAt: now, expiresAt: now + init.ttlMs, uses: init.uses, used: 0, revoked: false }
      // a token is dropped a day after it expired (spent or revoked ones too): the file stays small,
      // and `grid certs token list` still shows why a recent join was refused
      const kept = tokens.filter(t => now < t.expiresAt + KEEP_EXPIRED_MS)
      return { tokens: [...kept, token], result: token }
    })
  }

  /** Marks `id` revoked; false when there is no such token. */
  async revoke (id: string): Promise<boolean> {
    return await this.update(tokens => {
      const token = tokens.find(t => t.id === id)
      if (token != null) token.revoked = true
      return { tokens, result: token != null }
    })
  }

  /**
   * Counts one use of `id` if `check(token)` admits it (the caller verifies the
   * request's MAC there, against the record read under the same lock). Returns the
   * token as used, or the reason it was refused.
   */
  async consume (id: string, check: (token: TokenRecord) => string | undefined, now = Date.now()): Promise<TokenRecord | { refused: string }> {
    return await this.update<TokenRecord | { refused: string }>(tokens => {
      const token = tokens.find(t => t.id === id)
      const refused = token == null ? 'unknown token' : check(token) ?? tokenRefusal(token, now)
      if (token == null || refused != null) return { result: { refused: refused ?? 'unknown token' } }
      token.used++
      return { tokens, result: { ...token } }
    })
  }

  /**
   * Gives back one use of `id` that `consume` counted: the issuer failed (signing,
   * recording the certificate) before anything was sent, so the joiner may try again.
   */
  async release (id: string): Promise<void> {
    await this.update(tokens => {
      const token = tokens.find(t => t.id === id)
      if (token == null || token.used === 0) return { result: undefined }
      token.used--
      return { tokens, result: undefined }
    })
  }

  private async update<T> (change: (tokens: TokenRecord[]) => { tokens?: TokenRecord[], result: T }): Promise<T> {
    return await this.file.update(current => {
      const { tokens, result } = change(current?.tokens ?? [])
      return { write: tokens == null ? undefined : { v: 1 as const, tokens }, result }
    })
  }
}
