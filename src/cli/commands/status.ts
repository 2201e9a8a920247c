import { Command, Option } from 'commander'
import { createClientLibp2p } from '../../transport/libp2p.ts'
import { parsePeerAddress } from '../../transport/address.ts'
import { fetchStatus } from '../../control/status.ts'
import type { StatusReport } from '../../control/status.ts'
import { devCerts } from '../../certs/dev.ts'
import { PeerUnreachableError } from '../../errors.ts'
import { createCliLogger } from '../logger.ts'
import { intOption, logLevelOption, tlsOptions } from '../options.ts'
import { requireTls } from '../tls-source.ts'
import type { TlsFlags } from '../tls-source.ts'
import { formatTable } from '../format.ts'

interface StatusFlags extends TlsFlags {
  peer: string
  json?: boolean
  dev?: boolean
  timeout: number
  logLevel: string
}

export function statusCommand (): Command {
  const cmd = new Command('status')
    .description('print a node and the members it knows')
    .addOption(new Option('--peer <addr>', 'the node to ask: host:port or multiaddr').makeOptionMandatory().env('GRID_PEER'))
    .option('--json', 'print one JSON object')
    .addOption(intOption('--timeout <ms>', 'give up after this long', 100, 600_000).default(10_000))
  for (const option of tlsOptions('client')) cmd.addOption(option)
  return cmd
    .addOption(logLevelOption('warn'))
    .action(async (flags: StatusFlags) => {
      const report = await queryStatus(flags)
      process.stdout.write(flags.json === true ? `${JSON.stringify(report)}\n` : formatStatus(report))
    })
}

async function queryStatus (flags: StatusFlags): Promise<StatusReport> {
  const target = parsePeerAddress(flags.peer)
  const log = createCliLogger(flags.logLevel, true)
  const tls = flags.dev === true ? await devCerts('client') : (await requireTls(flags, process.env, process.cwd(), 'client')).tls
  const libp2p = await createClientLibp2p(tls, log)
  try {
    return await fetchStatus(libp2p, target, { signal: AbortSignal.timeout(flags.timeout) })
  } catch (err) {
    throw new PeerUnreachableError(flags.peer, { cause: err })
  } finally {
    await libp2p.stop()
  }
}

function formatStatus (report: StatusReport): string {
  const lines = [`node ${report.self.id}`, ...report.self.addresses.map(a => `  ${a}`), '']
  if (report.members.length === 0) return `${lines.join('\n')}no other members\n`
  const rows = report.members.map(m => [m.id, m.state, m.addresses.join(' ')])
  return `${lines.join('\n')}${formatTable(['ID', 'STATE', 'ADDRESSES'], rows)}`
}
