/**
 * The demo against a grid that is already running (compose, Kubernetes, other
 * machines) instead of the dev grid it starts itself:
 * `node examples/demo/run.ts --peer seed:4100 --certs DIR --name demo [--host IP] [--port N] [--announce HOST:PORT]`.
 * DIR holds `ca.crt`, `NAME.crt` and `NAME.key`: a certificate with the `member`
 * role (the demo owns the pipeline and ships its stage to the agents).
 */
import { loadCerts } from '../../src/index.ts'
import type { GridNodeInit } from '../../src/index.ts'

export interface ExistingGrid {
  peer: string
  init: GridNodeInit
}

/** The value after `flag` in `argv`, if the flag is there. */
function valueOf (argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag)
  if (at < 0) return undefined
  const value = argv[at + 1]
  if (value == null || value.startsWith('--')) throw new Error(`${flag} needs a value`)
  return value
}

/** `--peer` given: the node options to join that grid; otherwise undefined (start a dev grid). */
export async function existingGridFromArgs (argv: readonly string[]): Promise<ExistingGrid | undefined> {
  const peer = valueOf(argv, '--peer')
  if (peer == null) return undefined
  const certs = valueOf(argv, '--certs')
  if (certs == null) throw new Error('--peer needs --certs DIR (ca.crt and a member certificate NAME.crt/NAME.key, --name, default "demo")')
  const announce = valueOf(argv, '--announce')
  return {
    peer,
    init: {
      host: valueOf(argv, '--host') ?? '0.0.0.0',
      port: Number(valueOf(argv, '--port') ?? 0),
      announce: announce == null ? undefined : [announce],
      tls: await loadCerts(certs, valueOf(argv, '--name') ?? 'demo'),
      peers: [peer]
    }
  }
}
