import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GridNodeConfig } from './config.ts'
import type { Logger } from './logger.ts'
import type { Service } from './lifecycle/service.ts'
import type { TlsMaterial } from './transport/mtls/material.ts'

/** TLS material as a node starts with it: `throwaway` for a dev identity no later start can take again. */
export type NodeTls = TlsMaterial & { throwaway?: true }

/** The node's TLS material: `tls` as given, or (dev mode) the throwaway CA's certificate for this node. */
export async function resolveTls (config: GridNodeConfig, log: Logger): Promise<NodeTls> {
  if (config.tls != null) return config.tls
  // loaded only in dev mode: certificate generation pulls in @peculiar/x509 (~8 MB a node never needs otherwise)
  const { devCerts } = await import('./certs/dev.ts')
  const certs = await devCerts(config.devName ?? (config.port === 0 ? undefined : `node-${config.port}`))
  log.warn({ dir: certs.dir, name: certs.name }, 'DEV MODE: throwaway CA in a temp dir; only nodes on this machine can join (one-machine grid only)')
  return certs
}

/**
 * A throwaway dev identity (dev mode, port 0, no devName) with no dataDir given keeps its state in a temp
 * dir removed when it stops (throwawayDataDirService): its default, `<stateHome>/gridd/<peer id>`, would
 * never be used again, and each start left one for good (a test suite: hundreds).
 */
export async function withThrowawayDataDir (config: GridNodeConfig, tls: NodeTls): Promise<GridNodeConfig> {
  if (tls.throwaway !== true || config.dataDir != null) return config
  return { ...config, dataDir: await mkdtemp(join(tmpdir(), 'gridd-dev-data-')), throwawayDataDir: true }
}

/** Removes a throwaway identity's data dir (nothing for any other): at stop, or when the start failed or was aborted. */
export async function removeThrowawayDataDir (config: GridNodeConfig): Promise<void> {
  if (config.throwawayDataDir === true && config.dataDir != null) await rm(config.dataDir, { recursive: true, force: true })
}

/** First started, last stopped: removes a throwaway identity's data dir once every part is done with it. */
export function throwawayDataDirService (config: GridNodeConfig): Service | undefined {
  if (config.throwawayDataDir !== true) return undefined
  const remove = async (): Promise<void> => { await removeThrowawayDataDir(config) }
  return { name: 'throwaway data dir', stop: remove, destroy: remove }
}
