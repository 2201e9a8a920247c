import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { loadCerts, readPemOrPath } from '../transport/mtls/material.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import { CertsNotFoundError, ConfigError } from '../errors.ts'
import { checkKeyFile, isPemText } from './key-file.ts'

export interface TlsFlags {
  ca?: string
  cert?: string
  key?: string
  certs?: string
  name?: string
}

export type TlsSource = 'flags' | 'certs-dir' | 'env' | 'cwd'

export interface ResolvedTls {
  source: TlsSource
  tls: TlsMaterial
  /** The directory the CA certificate was read from (none when it was PEM text). */
  certsDir?: string
}

/**
 * Where the TLS material comes from, highest first: `--ca/--cert/--key`,
 * `--certs DIR`, the GRID_TLS_* environment, then `./certs`. Returns
 * undefined when nothing is configured (the caller may fall back to --dev).
 * A key file that group or others may read or write is refused (`KeyPermissionsError`).
 */
export async function resolveTlsSource (flags: TlsFlags, env: Record<string, string | undefined>, cwd: string, defaultName: string): Promise<ResolvedTls | undefined> {
  const name = flags.name ?? defaultName
  const trio = [flags.ca, flags.cert, flags.key]
  if (trio.some(v => v != null)) {
    if (trio.some(v => v == null)) throw new ConfigError('--ca/--cert/--key', 'give all three together')
    return { source: 'flags', tls: { ca: await readPemOrPath(flags.ca!, 'CA certificate'), cert: await readPemOrPath(flags.cert!, 'certificate'), key: await readKey(flags.key!, 'key') }, certsDir: dirOf(flags.ca!) }
  }
  if (flags.certs != null) return await fromCertsDir('certs-dir', resolve(cwd, flags.certs), name)
  const fromEnv = await tlsFromEnv(env, defaultName === 'node')
  if (fromEnv != null) return { source: 'env', tls: fromEnv, certsDir: env.GRID_TLS_CA == null ? undefined : dirOf(env.GRID_TLS_CA) }
  const local = join(cwd, 'certs')
  if (existsSync(join(local, 'ca.crt')) && existsSync(join(local, `${name}.crt`))) return await fromCertsDir('cwd', local, name)
  return undefined
}

async function fromCertsDir (source: TlsSource, dir: string, name: string): Promise<ResolvedTls> {
  await checkKeyFile(join(dir, `${name}.key`))
  return { source, tls: await loadCerts(dir, name), certsDir: dir }
}

/** A private key, PEM text or a file only its owner may read and write. */
async function readKey (value: string, what: string): Promise<string> {
  await checkKeyFile(value)
  return await readPemOrPath(value, what)
}

function dirOf (pathOrPem: string): string | undefined {
  return isPemText(pathOrPem) ? undefined : dirname(resolve(pathOrPem))
}

async function tlsFromEnv (env: Record<string, string | undefined>, isNode: boolean): Promise<TlsMaterial | undefined> {
  const ca = env.GRID_TLS_CA
  // a node presents its server pair inbound and its client pair outbound; a CLI client only dials
  const cert = (isNode ? env.GRID_TLS_SERVER_CERT : env.GRID_TLS_CLIENT_CERT) ?? env.GRID_TLS_CERT
  const key = (isNode ? env.GRID_TLS_SERVER_KEY : env.GRID_TLS_CLIENT_KEY) ?? env.GRID_TLS_KEY
  const clientCert = env.GRID_TLS_CLIENT_CERT
  const clientKey = env.GRID_TLS_CLIENT_KEY
  if ((clientCert == null) !== (clientKey == null)) throw new ConfigError('GRID_TLS_CLIENT_*', 'set GRID_TLS_CLIENT_CERT and GRID_TLS_CLIENT_KEY together')
  if (ca == null && cert == null && key == null && clientCert == null) return undefined
  if (ca == null || cert == null || key == null) throw new ConfigError('GRID_TLS_*', 'set GRID_TLS_CA, GRID_TLS_CERT and GRID_TLS_KEY together (each PEM text or a file path)')
  const tls: TlsMaterial = { ca: await readPemOrPath(ca, 'GRID_TLS_CA'), cert: await readPemOrPath(cert, 'certificate'), key: await readKey(key, 'key') }
  if (isNode && clientCert != null && clientKey != null) {
    tls.outbound = { cert: await readPemOrPath(clientCert, 'GRID_TLS_CLIENT_CERT'), key: await readKey(clientKey, 'GRID_TLS_CLIENT_KEY') }
  }
  return tls
}

/** Resolves TLS or explains how to make certificates. */
export async function requireTls (flags: TlsFlags, env: Record<string, string | undefined>, cwd: string, defaultName: string): Promise<ResolvedTls> {
  const found = await resolveTlsSource(flags, env, cwd, defaultName)
  if (found == null) throw new CertsNotFoundError('no --certs/--ca flags, no GRID_TLS_* variables, no ./certs directory')
  return found
}
