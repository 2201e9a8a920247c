import { Command, Option } from 'commander'
import { parsePeerAddress } from '../../transport/address.ts'
import { fetchStatus } from '../../control/status.ts'
import type { StatusReport } from '../../control/status.ts'
import { intOption, logLevelOption, tlsOptions } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { formatTable, printable, printableJson } from '../format.ts'

interface StatusFlags extends ClientFlags {
  peer: string
  json?: boolean
  all?: boolean
}

export function statusCommand (): Command {
  const cmd = new Command('status')
    .description('print a node and the members it knows')
    .addOption(new Option('--peer <addr>', 'the node to ask: host:port or multiaddr').makeOptionMandatory().env('GRID_PEER'))
    .option('--json', 'print one JSON object')
    .option('--all', 'also list members the node still remembers after dropping them (left longer ago than its forget-left-after-ms)')
    .addOption(intOption('--timeout <ms>', 'give up after this long', 100, 600_000).default(10_000))
  for (const option of tlsOptions('client')) cmd.addOption(option)
  return cmd
    .addOption(logLevelOption('warn'))
    .action(async (flags: StatusFlags) => {
      const report = await queryStatus(flags)
      process.stdout.write(flags.json === true ? `${printableJson(report)}\n` : formatStatus(report))
    })
}

async function queryStatus (flags: StatusFlags): Promise<StatusReport> {
  const target = parsePeerAddress(flags.peer)
  return await withClient(flags, flags.peer, async (libp2p, signal) => await fetchStatus(libp2p, target, { signal, all: flags.all === true }))
}

/** Everything here came from gossip: the table's cells and the head are made printable (no escape sequences). */
export function formatStatus (report: StatusReport): string {
  const self = report.self
  const head = printable(`node ${self.id} (${self.role}, incarnation ${self.incarnation})`) + `\n${self.addresses.map(a => `  ${printable(a)}\n`).join('')}\n`
  if (report.members.length === 0) return `${head}no other members\n`
  const rows = report.members.map(m => [
    m.id,
    m.state,
    m.role,
    String(m.incarnation),
    `${Math.round(m.load.cpu * 100)}%`,
    `${m.load.memoryFreeMb}/${m.capacity.memoryMb}`,
    m.role === 'agent' ? `${m.load.workers}/${m.load.maxWorkers} cpu ${m.load.slotsUsed}/${m.capacity.cpu} mem ${m.load.memoryUsedMb}MB` : '-',
    m.role === 'agent' ? formatStages(m.load.stages) : '-',
    `${m.weight} ${m.strategy}`,
    `${(m.lastSeenMs / 1000).toFixed(1)}s`,
    m.addresses[0] ?? ''
  ])
  return head + formatTable(['ID', 'STATE', 'ROLE', 'INCARNATION', 'CPU', 'MEM FREE/MB', 'WORKERS USED', 'BY STAGE', 'WEIGHT', 'SEEN', 'ADDRESS'], rows)
}

function formatStages (stages: Record<string, number>): string {
  const entries = Object.entries(stages)
  return entries.length === 0 ? '-' : entries.map(([stage, n]) => `${stage}:${n}`).join(',')
}
