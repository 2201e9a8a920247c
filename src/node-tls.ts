import type { GridNodeConfig } from './config.ts'
import type { Logger } from './logger.ts'
import type { TlsMaterial } from './transport/mtls/material.ts'

/** The node's TLS material: `tls` as given, or (dev mode) the throwaway CA's certificate for this node. */
export async function resolveTls (config: GridNodeConfig, log: Logger): Promise<TlsMaterial> {
  if (config.tls != null) return config.tls
  // loaded only in dev mode: certificate generation pulls in @peculiar/x509 (~8 MB a node never needs otherwise)
  const { devCerts } = await import('./certs/dev.ts')
  const certs = await devCerts(config.devName ?? (config.port === 0 ? undefined : `node-${config.port}`))
  log.warn({ dir: certs.dir, name: certs.name }, 'DEV MODE: throwaway CA in a temp dir; only nodes on this machine can join (one-machine grid only)')
  return certs
}
