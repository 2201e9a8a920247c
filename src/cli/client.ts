import { createClientLibp2p } from '../transport/libp2p.ts'
import type { ClientLibp2p } from '../transport/libp2p.ts'
import { ConfigError, ForbiddenError, PeerUnreachableError } from '../errors.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { createCliLogger } from './logger.ts'
import { requireTls } from './tls-source.ts'
import type { TlsFlags } from './tls-source.ts'

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
export async function withClient<T> (flags: ClientFlags, address: string, fn: (libp2p: ClientLibp2p, signal: AbortSignal) => Promise<T>, certName = 'client'): Promise<T> {
  const log = await createCliLogger(flags.logLevel, true)
  const tls = flags.dev === true ? await (await import('../certs/dev.ts')).devCerts('client') : (await requireTls(flags, process.env, process.cwd(), certName)).tls
  const libp2p = await createClientLibp2p(tls, log)
  try {
    return await fn(libp2p, AbortSignal.timeout(flags.timeout))
  } catch (err) {
    // the node answered (with an error of its own): that is not "unreachable"
    if (err instanceof RemoteError || err instanceof ConfigError || err instanceof ForbiddenError) throw err
    throw new PeerUnreachableError(address, { cause: err })
  } finally {
    await libp2p.stop()
  }
}
