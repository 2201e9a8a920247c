import { Argument, Command, Option } from 'commander'
import { parsePeerAddress } from '../../transport/address.ts'
import { requestSchedules } from '../../schedules/protocol.ts'
import type { ScheduleRequest } from '../../schedules/protocol.ts'
import type { ScheduleView } from '../../schedules/service.ts'
import { OVERLAPS } from '../../schedules/types.ts'
import { addClientOptions, intOption } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { formatTable, printableJson } from '../format.ts'
import { ConfigError } from '../../errors.ts'

interface ScheduleFlags extends ClientFlags {
  peer: string
  json?: boolean
  cron?: string
  every?: number
  timezone?: string
  task?: string
  input?: string
  overlap?: string
  catchup?: boolean
  paused?: boolean
  envelope?: boolean
}

/** `grid schedule add|list|rm|pause|resume [id]`: schedules of registered tasks, through an API node. */
export function scheduleCommand (): Command {
  const cmd = new Command('schedule')
    .description('manage schedules (cron or every N ms) of registered tasks, through a node running the HTTP API (--api)')
    .addArgument(new Argument('<op>', 'what to do').choices(['add', 'list', 'rm', 'pause', 'resume']))
    .argument('[id]', 'schedule id (add, rm, pause, resume)')
    .addOption(new Option('--peer <addr>', 'an API node: host:port or multiaddr').makeOptionMandatory().env('GRID_PEER'))
    .option('--cron <pattern>', 'add: a cron pattern, five fields or six with seconds first')
    .addOption(intOption('--every <ms>', 'add: every this many ms (instead of --cron)', 1000, 2_147_483_647))
    .option('--timezone <zone>', 'add: IANA time zone of --cron (default UTC)')
    .option('--task <name>', 'add: the registered task name to run')
    .option('--input <json>', 'add: the task input (JSON if it parses, else a string)')
    .addOption(new Option('--overlap <mode>', 'add: while the previous run goes on').choices([...OVERLAPS]).default('skip'))
    .option('--catchup', 'add: fire ticks missed while no API node could (bounded)')
    .option('--paused', 'add: create it paused')
    .option('--envelope', 'add: the task gets { input, scheduledAt, schedule }')
  return addClientOptions(cmd)
    .action(async (op: string, id: string | undefined, flags: ScheduleFlags) => {
      const request = toRequest(op, id, flags)
      const target = parsePeerAddress(flags.peer)
      const reply = await withClient(flags, flags.peer, async (libp2p, signal) => await requestSchedules(libp2p, target, request, { signal }), 'client', { unsupported: 'schedules are served by nodes started with --api' })
      if (flags.json === true) {
        process.stdout.write(`${printableJson(reply)}\n`)
        return
      }
      const rows = (Array.isArray(reply) ? reply : [reply]) as ScheduleView[]
      process.stdout.write(rows.length === 0
        ? '(no schedules)\n'
        : formatTable(['ID', 'WHEN', 'TASK', 'OVERLAP', 'STATE', 'NEXT RUN', 'FIRER'], rows.map(s => [
          s.id, s.cron != null ? `cron ${s.cron} ${s.timezone}` : `every ${s.everyMs} ms`, s.task, s.overlap,
          op === 'rm' ? 'deleted' : s.paused ? 'paused' : 'active', s.nextRunAt == null ? '-' : new Date(s.nextRunAt).toISOString(), s.firer ?? '-'
        ])))
    })
}

function toRequest (op: string, id: string | undefined, flags: ScheduleFlags): ScheduleRequest {
  if (op === 'list') {
    if (id != null) throw new ConfigError('list', 'takes no id')
    return { op }
  }
  if (id == null) throw new ConfigError(op, 'needs a schedule id')
  if (op !== 'add') return { op: op as 'rm' | 'pause' | 'resume', id }
  if (flags.task == null) throw new ConfigError('task', 'add needs --task <registered name>')
  if ((flags.cron == null) === (flags.every == null)) throw new ConfigError('add', 'give exactly one of --cron and --every')
  return {
    op,
    spec: {
      id,
      task: flags.task,
      ...(flags.cron != null ? { cron: flags.cron } : { everyMs: flags.every }),
      ...(flags.timezone != null ? { timezone: flags.timezone } : {}),
      ...(flags.input != null ? { input: parseValue(flags.input) } : {}),
      overlap: flags.overlap,
      catchup: flags.catchup === true,
      paused: flags.paused === true,
      envelope: flags.envelope === true
    }
  }
}

function parseValue (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
