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
  const self = report.self
  const head = `node ${self.id} (${self.role}, incarnation ${self.incarnation})\n${self.addresses.map(a => `  ${a}\n`).join('')}\n`
  if (report.members.length === 0) return `${head}no other members\n`
  const rows = report.members.map(m => [
    m.id,
    m.state,
    m.role,
    String(m.incarnation),
    `${Math.round(m.load.cpu * 100)}%`,
    `${m.load.memoryFreeMb}/${m.capacity.memoryMb}`,
    `${m.load.workers}/${m.load.maxWorkers}`,
    `${m.weight} ${m.strategy}`,
    `${(m.lastSeenMs / 1000).toFixed(1)}s`,
    m.addresses[0] ?? ''
  ])
  return head + formatTable(['ID', 'STATE', 'ROLE', 'INCARNATION', 'CPU', 'MEM FREE/MB', 'WORKERS', 'WEIGHT', 'SEEN', 'ADDRESS'], rows)
}
