import { Command, Option } from 'commander'
import { parsePeerAddress } from '../../transport/address.ts'
import { sendControl } from '../../control/control.ts'
import type { ControlRequest } from '../../control/control.ts'
import { intOption, logLevelOption, parseNumber, tlsOptions } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { checkOption } from '../../checks/check.ts'
import { ConfigError } from '../../errors.ts'
import { strategy, weight } from '../../checks/values.ts'

interface ControlFlags extends ClientFlags {
  node: string
}

function controlCommand (name: string, description: string, argument: string, toRequest: (value: string) => ControlRequest): Command {
  const cmd = new Command(name)
    .description(description)
    .argument(argument)
    .addOption(new Option('--node <addr>', 'the node to change: host:port or multiaddr').makeOptionMandatory())
    .addOption(intOption('--timeout <ms>', 'give up after this long', 100, 600_000).default(10_000))
  for (const option of tlsOptions('admin')) cmd.addOption(option)
  return cmd
    .addOption(logLevelOption('warn'))
    .action(async (value: string, flags: ControlFlags) => {
      const request = toRequest(value)
      const target = parsePeerAddress(flags.node)
      // changing a node's placement is an admin's (DESIGN §11)
      const result = await withClient(flags, flags.node, async (libp2p, signal) => await sendControl(libp2p, target, request, { signal }), 'admin')
      process.stdout.write(`${flags.node}: weight ${result.weight}, strategy ${result.strategy}\n`)
    })
}

export function weightCommand (): Command {
  return controlCommand('weight', 'set a node\'s placement weight at run time (gossiped at once)', '<weight>', value => {
    const parsed = parseNumber(value)
    // the text as typed: "got NaN" would not say which text was no number
    if (Number.isNaN(parsed)) throw new ConfigError('weight', `must be a number from -1000000 to 1000000, got ${JSON.stringify(value)}`)
    return { op: 'set-weight', weight: checkOption('weight', weight, parsed) }
  })
}

export function strategyCommand (): Command {
  return controlCommand('strategy', 'set a node\'s placement strategy at run time (gossiped at once)', '<horizontal|vertical>', value => {
    return { op: 'set-strategy', strategy: checkOption('strategy', strategy, value) }
  })
}
