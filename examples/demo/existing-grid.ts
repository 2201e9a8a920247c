/**
 * The demo against a grid that is already running (compose, Kubernetes, other
 * machines) instead of the dev grid it starts itself:
 * `node examples/demo/run.ts --peer seed:4100 --certs DIR --name demo [--host IP] [--port N] [--announce HOST:PORT]`.
 * DIR holds `ca.crt`, `NAME.crt` and `NAME.key`: a certificate with the `member`
 * role (the demo owns the pipeline and ships its stage to the agents).
 */
import { loadCerts } from '../../src/index.ts'
import type { GridNodeInit } from '../../src/index.ts'
import type { DemoArgs } from './args.ts'

export interface ExistingGrid {
  peer: string
  init: GridNodeInit
}

/** `--peer` given: the node options to join that grid; otherwise undefined (start a dev grid). */
export async function existingGridFromArgs (args: DemoArgs): Promise<ExistingGrid | undefined> {
  const { peer, certs } = args
  if (peer == null || certs == null) return undefined
  return {
    peer,
    init: {
      host: args.host ?? '0.0.0.0',
      port: args.port ?? 0,
      announce: args.announce == null ? undefined : [args.announce],
      tls: await loadCerts(certs, args.name ?? 'demo'),
      peers: [peer]
    }
  }
}
