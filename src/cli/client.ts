import { createClientLibp2p } from '../transport/libp2p.ts'
import type { ClientLibp2p } from '../transport/libp2p.ts'
import { ConfigError, ForbiddenError, PeerUnreachableError } from '../errors.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { CLOSED_EARLY_TEXT, HTTP_PORTS, notAGridNode } from '../transport/dial-failure.ts'
import { createCliLogger } from './logger.ts'
import { requireTls } from './tls-source.ts'
import type { TlsFlags } from './tls-source.ts'

/** What a failure should point at: the flag that picks the certificate, and what a node lacking the protocol lacks. */
export interface DialHints {
  /** `--name` by default; `--cert-name` where `--name` names something else (`grid pipeline`). */
  certFlag?: string
  /** e.g. `schedules are served by nodes started with --api`. */
  unsupported?: string
}

export interface ClientFlags extends TlsFlags {
  dev?: boolean
  timeout: number
  logLevel: string
}

/**
 * Runs `fn` with a dial-only libp2p client, then stops it. The certificate is
 * `--name`, else `certName`: the least role the command needs (`client` to read,
 * `node` to write as a member, `admin` to change placement).
 */
export async function withClient<T> (flags: ClientFlags, address: string, fn: (libp2p: ClientLibp2p, signal: AbortSignal) => Promise<T>, certName = 'client', hints: DialHints = {}): Promise<T> {
  const log = await createCliLogger(flags.logLevel, true)
  const tls = flags.dev === true ? await (await import('../certs/dev.ts')).devCerts('client') : (await requireTls(flags, process.env, process.cwd(), certName)).tls
  const libp2p = await createClientLibp2p(tls, log)
  try {
    return await fn(libp2p, AbortSignal.timeout(flags.timeout))
  } catch (err) {
    // the node answered (with an error of its own): that is not "unreachable"
    if (err instanceof RemoteError || err instanceof ConfigError || err instanceof ForbiddenError) throw err
    throw explainDialFailure(err, address, flags.name ?? certName, hints)
  } finally {
    await libp2p.stop()
  }
}

/**
 * What to tell the user when the dial or the request failed. Two failures reach the node and are
 * not "unreachable": libp2p refuses a connection to a peer with its own key (a CLI using the
 * certificate of the very node it dials: `grid channel set` with `node` against the node run as
 * `node`), and a node that does not speak the protocol (`grid schedule` to a node without `--api`).
 */
export function explainDialFailure (err: unknown, address: string, certName: string, hints: DialHints = {}): Error {
  const certFlag = hints.certFlag ?? '--name'
  const name = (err as Error | undefined)?.name
  const message = (err as Error | undefined)?.message ?? ''
  if (name === 'InvalidPeerIdError' && message.includes('dial self')) {
    return new ConfigError(certFlag, `the node at ${address} runs under the same key as the certificate this command used ("${certName}"), and a node takes no connection from its own key: ` +
      `use another certificate holding the role this command needs (${certFlag} <cert>; \`grid certs issue cli --role member\` makes one for writes), or --peer another member`, { cause: err })
  }
  const otherwise = notAGridNode(err)
  if (otherwise === 'answers-otherwise') return new ConfigError('--peer', `${address} answers, but not as a grid node (${message}): give the node's --port; ${HTTP_PORTS}`, { cause: err })
  // still "unreachable": a node at its connection limit hangs up too
  if (otherwise === 'closed-early') return new PeerUnreachableError(address, { cause: err, hint: `it ${CLOSED_EARLY_TEXT}: is that a grid node's --port? ${HTTP_PORTS}` })
  if (name === 'UnsupportedProtocolError') {
    return new ConfigError('--peer', `the node at ${address} does not serve this command${hints.unsupported != null ? ` (${hints.unsupported})` : ' (an older gridd, or the feature is off there)'}: ${message}`, { cause: err })
  }
  return new PeerUnreachableError(address, { cause: err })
}
