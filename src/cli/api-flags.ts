import { resolve } from 'node:path'
import { Option } from 'commander'
import { intOption, listOption } from './options.ts'
import type { ApiOptions } from '../api/options.ts'
import { parseHookSpec } from '../api/hooks/hook-config.ts'
import { ConfigError } from '../errors.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'

/** `grid node` flags of the HTTP API (the task names it may run come from `--task`). */
export interface ApiFlags {
  api?: number
  apiHost: string
  apiJwtSecretFile?: string
  apiJwtPublicKeyFile?: string
  apiJwksFile?: string
  apiJwtIssuer?: string
  apiJwtAudience?: string
  apiHook?: string[]
  apiRateLimit?: number
  apiTls?: boolean
}

export function apiOptions (): Option[] {
  return [
    intOption('--api <port>', 'serve the HTTP API (REST, live output, webhooks) on this port (0 = any free port)', 0, 65535).env('GRID_API'),
    new Option('--api-host <ip>', 'HTTP API listen address').default('127.0.0.1').env('GRID_API_HOST'),
    new Option('--api-tls', 'serve the HTTP API over HTTPS with the node\'s certificate, and accept the grid\'s client certificates (their roles grant scopes)').env('GRID_API_TLS'),
    new Option('--api-jwt-secret-file <file>', 'verify bearer tokens with the HS256 secret in this file (at least 32 bytes)').env('GRID_API_JWT_SECRET_FILE'),
    new Option('--api-jwt-public-key-file <file>', 'verify bearer tokens with this Ed25519 (EdDSA) or P-256 (ES256) public key (PEM)').env('GRID_API_JWT_PUBLIC_KEY_FILE'),
    new Option('--api-jwks-file <file>', 'verify bearer tokens with the public keys of this JWKS file').env('GRID_API_JWKS_FILE'),
    new Option('--api-jwt-issuer <iss>', 'refuse bearer tokens whose iss claim is not this (default: not checked)').env('GRID_API_JWT_ISSUER'),
    new Option('--api-jwt-audience <aud>', 'refuse bearer tokens whose aud claim does not name this (default: not checked; set it when the identity provider also issues tokens for other services)').env('GRID_API_JWT_AUDIENCE'),
    intOption('--api-rate-limit <n>', 'HTTP API requests per token subject (else client address) per minute (default 600)', 1, 1_000_000_000).env('GRID_API_RATE_LIMIT'),
    listOption('--api-hook <spec>', 'a webhook, name=task:secretFile[:wait]: POST /v1/hooks/<name> runs registered task <task>, signed with the secret in secretFile; :wait answers with the result (repeatable, comma-separated in GRID_API_HOOKS)').env('GRID_API_HOOKS')
  ]
}

/** The flags that mean something only with `--api` (`--api-host` has a default, so it cannot tell). */
const API_ONLY_FLAGS: Array<[keyof ApiFlags, string]> = [
  ['apiTls', 'api-tls'], ['apiJwtSecretFile', 'api-jwt-secret-file'], ['apiJwtPublicKeyFile', 'api-jwt-public-key-file'], ['apiJwksFile', 'api-jwks-file'],
  ['apiJwtIssuer', 'api-jwt-issuer'], ['apiJwtAudience', 'api-jwt-audience'], ['apiRateLimit', 'api-rate-limit'], ['apiHook', 'api-hook']
]

/** The API add-on's options from the flags, or undefined without `--api`; called before the node starts, so a refused flag starts nothing. */
export function apiAddonOptions (flags: ApiFlags, cwd: string, tls?: TlsMaterial): ApiOptions | undefined {
  if (flags.api == null) {
    // without --api there is no API: a flag of it (or its variable) would be dropped without a word
    const given = API_ONLY_FLAGS.find(([key]) => flags[key] != null)
    if (given != null) throw new ConfigError(given[1], 'needs --api <port> (GRID_API): without it the node serves no HTTP API')
    return undefined
  }
  if (flags.apiTls === true && tls == null) throw new ConfigError('api-tls', 'needs the node\'s certificates (--certs, --ca/--cert/--key or GRID_TLS_*), not --dev')
  const file = (path: string | undefined): string | undefined => path == null ? undefined : resolve(cwd, path)
  const keyed = flags.apiJwtSecretFile != null || flags.apiJwtPublicKeyFile != null || flags.apiJwksFile != null
  // a claim check without a verifier would check nothing: say so rather than start as if it did
  if (!keyed && flags.apiJwtIssuer != null) throw new ConfigError('api-jwt-issuer', 'needs --api-jwt-secret-file, --api-jwt-public-key-file or --api-jwks-file')
  if (!keyed && flags.apiJwtAudience != null) throw new ConfigError('api-jwt-audience', 'needs --api-jwt-secret-file, --api-jwt-public-key-file or --api-jwks-file')
  return {
    port: flags.api,
    host: flags.apiHost,
    rateLimit: flags.apiRateLimit,
    tls: flags.apiTls === true && tls != null ? { ca: tls.ca, cert: tls.cert, key: tls.key } : undefined,
    jwt: keyed ? { secretFile: file(flags.apiJwtSecretFile), publicKeyFile: file(flags.apiJwtPublicKeyFile), jwksFile: file(flags.apiJwksFile), issuer: flags.apiJwtIssuer, audience: flags.apiJwtAudience } : undefined,
    hooks: (flags.apiHook ?? []).map(spec => {
      const hook = parseHookSpec(spec)
      return { ...hook, secretFile: resolve(cwd, hook.secretFile) }
    })
  }
}
