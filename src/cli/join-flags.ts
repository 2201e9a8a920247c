import { Option } from 'commander'
import { hostname, homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { intOption, listOption } from './options.ts'
import { checkKeyFile } from './key-file.ts'
import type { GridNode } from '../node.ts'
import type { Logger } from '../logger.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import type { TokenStore } from '../join/token-store.ts'
import { parsePeerAddress } from '../transport/address.ts'
import { prepareDataDir } from '../data-dir.ts'
import { ConfigError, JoinError } from '../errors.ts'

/** Flags of `grid node` for joining with a token, issuing to joiners, health endpoints and the announced address. */
export interface JoinFlags {
  join?: string
  caKey?: string
  joinPort?: number
  health?: number
  healthHost: string
  announce?: string[]
}

export function joinOptions (): Option[] {
  return [
    new Option('--join <token>', 'join with a token from `grid certs token create`: get a certificate from the --peer node (started with --ca-key), keep it in the data dir, and reuse it on restart').env('GRID_JOIN_TOKEN'),
    new Option('--ca-key <file>', 'the grid CA key (its directory holds tokens.json): this node signs certificates for nodes joining with a token').env('GRID_CA_KEY'),
    intOption('--join-port <port>', 'the join listener\'s port, on the issuer and as dialled by a joiner (default: the libp2p port + 1)', 0, 65535).env('GRID_JOIN_PORT'),
    intOption('--health <port>', 'serve GET /healthz (alive) and /readyz (joined) on this port', 0, 65535).env('GRID_HEALTH'),
    new Option('--health-host <ip>', 'health listen address (a kubelet probes the pod IP: 0.0.0.0 there)').default('127.0.0.1').env('GRID_HEALTH_HOST'),
    listOption('--announce <addr...>', 'the address(es) other members dial (host:port or multiaddr), when listening on 0.0.0.0 cannot guess it (NAT, containers)').env('GRID_ANNOUNCE')
  ]
}

/** The join port of an address's host: --join-port, else its libp2p port + 1. */
function joinEndpoint (peer: string, joinPort: number | undefined): { host: string, port: number } {
  const ma = parsePeerAddress(peer)
  const [address, tcp] = ma.getComponents()
  return { host: address?.value ?? '', port: joinPort ?? Number(tcp?.value) + 1 }
}

/** Where a node started with --join keeps its state when no --data-dir is given. */
export function joinedDataDir (dataDir: string | undefined, stateHome: string | undefined): string {
  if (dataDir != null) return dataDir
  const base = stateHome != null && isAbsolute(stateHome) ? stateHome : join(homedir(), '.local', 'state')
  return join(base, 'gridd', 'joined')
}

/**
 * `--join`: the certificate this data dir holds from an earlier join, or a new one
 * from the first --peer that answers (retried for a minute: the issuer may be
 * starting too). A refusal (bad, spent, expired or revoked token) is final.
 */
export async function joinedTls (flags: JoinFlags & { peer?: string[], name?: string }, dataDir: string, log: Logger, signal?: AbortSignal): Promise<TlsMaterial> {
  const { parseToken } = await import('../join/token.ts')
  const { loadJoined, storeJoined } = await import('../join/files.ts')
  let token: ReturnType<typeof parseToken>
  try {
    token = parseToken(flags.join ?? '')
  } catch (err) {
    // a token that does not parse is bad input (exit 2), not a refusal by the issuer
    throw new ConfigError('--join', (err as Error).message, { cause: err })
  }
  // the data dir's own check (owner, mode) before any certificate is read from it or a token spent to write one there:
  // a node would otherwise load certificates planted in a dir others can write to, or spend the token only to refuse the dir
  await prepareDataDir(dataDir, log, { checkOnly: true })
  const kept = await loadJoined(dataDir, token)
  if (kept != null) {
    await checkKeyFile(join(dataDir, 'certs', 'node.key'))
    log.info({ dataDir }, 'joined earlier: reusing the certificate in the data dir')
    return kept
  }
  const peers = flags.peer ?? []
  // bad input (exit 2): JoinError's exit 1 is for the issuer's refusal
  if (peers.length === 0) throw new ConfigError('--join', 'needs --peer: a node started with --ca-key to ask for a certificate')
  const { requestJoin } = await import('../join/joiner.ts')
  const name = (flags.name ?? hostname()).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63)
  const deadline = Date.now() + 60_000
  for (let attempt = 0; ; attempt++) {
    for (const peer of peers) {
      const endpoint = joinEndpoint(peer, flags.joinPort)
      try {
        const joined = await requestJoin({ token, ...endpoint, name, signal })
        const dir = await storeJoined(dataDir, joined.tls)
        log.info({ via: `${endpoint.host}:${endpoint.port}`, roles: joined.roles, certs: dir }, 'joined with a token: certificate issued and stored')
        return joined.tls
      } catch (err) {
        if (!(err instanceof JoinError) || !err.retryable || Date.now() > deadline) throw err
        log.warn({ err, via: `${endpoint.host}:${endpoint.port}` }, 'join attempt failed; retrying')
      }
    }
    await new Promise(resolve => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)))
  }
}

/**
 * Flags that cannot go together, checked before anything is read or started: --dev uses a throwaway CA,
 * so it can neither join a grid with a token (whose data dir it would still have switched to) nor issue for one.
 */
export function checkJoinFlags (flags: JoinFlags & { dev?: boolean }): void {
  if (flags.dev !== true) return
  if (flags.join != null) throw new ConfigError('--join', 'not with --dev: --dev runs on a throwaway CA of this machine, a token joins the grid of its CA; drop one of them')
  if (flags.caKey != null) throw new ConfigError('--ca-key', 'needs the node\'s own certificate (--certs, --ca/--cert/--key or GRID_TLS_*), not --dev')
}

export interface IssuerFiles {
  key: string
  tokens: TokenStore
}

/** --ca-key, read and checked against the node's CA before the node starts: a key of another CA is bad input (exit 2). */
export async function readIssuer (flags: JoinFlags, tls: TlsMaterial | undefined): Promise<IssuerFiles | undefined> {
  if (flags.caKey == null) return undefined
  if (tls == null) throw new ConfigError('--ca-key', 'needs the node\'s own certificate (--certs, --ca/--cert/--key or GRID_TLS_*), not --dev')
  await checkKeyFile(flags.caKey)
  const { readIssuerFiles } = await import('../join/files.ts')
  return await readIssuerFiles(flags.caKey, tls.ca)
}

/** After the node started: the join listener (--ca-key, read by readIssuer) and the health endpoints (--health). */
export async function useJoinAndHealth (node: GridNode, flags: JoinFlags & { port: number, host: string, peer?: string[] }, tls: TlsMaterial | undefined, issuer: IssuerFiles | undefined): Promise<void> {
  if (issuer != null && tls != null) {
    const { joinServiceAddon } = await import('../join/addon.ts')
    const port = flags.joinPort ?? (flags.port === 0 ? 0 : flags.port + 1)
    await node.use(joinServiceAddon, { ca: { cert: tls.ca, key: issuer.key }, server: { cert: tls.cert, key: tls.key }, tokens: issuer.tokens, host: flags.host, port })
  }
  if (flags.health != null) {
    const { healthAddon } = await import('../health/addon.ts')
    await node.use(healthAddon, { port: flags.health, host: flags.healthHost, alone: (flags.peer ?? []).length === 0 })
  }
}
