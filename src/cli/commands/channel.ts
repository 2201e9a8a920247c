import { Argument, Command, Option } from 'commander'
import { parsePeerAddress } from '../../transport/address.ts'
import { requestChannel } from '../../channels/client-protocol.ts'
import { CHANNEL_NAME } from '../../channels/schema.ts'
import type { ClientRequest } from '../../channels/schema.ts'
import { intOption, logLevelOption, tlsOptions } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { formatTable, printable, printableJson } from '../format.ts'
import { ConfigError } from '../../errors.ts'

interface ChannelFlags extends ClientFlags {
  peer: string
  json?: boolean
}

/** `grid channel get|set|del|list <channel> [key] [value]`: reads and writes a channel through any member. */
export function channelCommand (): Command {
  const cmd = new Command('channel')
    .description('read or write a grid-wide channel through a member (a value is JSON if it parses, else a string)')
    .addArgument(new Argument('<op>', 'what to do').choices(['get', 'set', 'del', 'list']))
    .argument('<channel>', 'channel name')
    .argument('[key]', 'key (get, set, del)')
    .argument('[value]', 'value (set)')
    .addOption(new Option('--peer <addr>', 'the member to go through: host:port or multiaddr').makeOptionMandatory().env('GRID_PEER'))
    .option('--json', 'print JSON')
    .addOption(intOption('--timeout <ms>', 'give up after this long', 100, 600_000).default(10_000))
  for (const option of tlsOptions('client', '"client" for get and list, "node" for set and del')) cmd.addOption(option)
  return cmd
    .addOption(logLevelOption('warn'))
    .action(async (op: string, channel: string, key: string | undefined, value: string | undefined, flags: ChannelFlags) => {
      const request = toRequest(op, channel, key, value)
      const target = parsePeerAddress(flags.peer)
      // reading needs a client certificate; writing a member's (the node certificate)
      const certName = request.op === 'set' || request.op === 'del' ? 'node' : 'client'
      const reply = await withClient(flags, flags.peer, async (libp2p, signal) => await requestChannel(libp2p, target, request, { signal }), certName)
      if (request.op === 'list') {
        const entries = reply.entries ?? []
        process.stdout.write(flags.json === true ? `${printableJson(Object.fromEntries(entries))}\n` : entries.length === 0 ? '(empty)\n' : formatTable(['KEY', 'VALUE'], entries.map(([k, v]) => [k, JSON.stringify(v) ?? 'null'])))
      } else if (request.op === 'get') {
        if (reply.found !== true) {
          if (flags.json === true) process.stdout.write('null\n')
          process.stderr.write(`grid: no key "${printable(request.key)}" in channel "${channel}"\n`)
          process.exitCode = 1
          return
        }
        process.stdout.write(`${flags.json === true || typeof reply.value !== 'string' ? printableJson(reply.value) : printable(reply.value, { keepLines: true })}\n`)
      } else if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(request.op === 'del' ? { ok: true, deleted: reply.found === true } : { ok: true })}\n`)
      }
    })
}

function toRequest (op: string, channel: string, key: string | undefined, value: string | undefined): ClientRequest {
  if (!CHANNEL_NAME.test(channel)) throw new ConfigError('channel', `name must match ${String(CHANNEL_NAME)}, got "${channel}"`)
  if (op === 'list') {
    if (key != null) throw new ConfigError('list', 'takes only a channel name')
    return { op, channel }
  }
  if (key == null) throw new ConfigError(op, 'needs a key')
  if (op === 'set') {
    if (value == null) throw new ConfigError('set', 'needs a value')
    return { op, channel, key, value: parseValue(value) }
  }
  if (value != null) throw new ConfigError(op, 'takes no value')
  return { op: op as 'get' | 'del', channel, key }
}

/** JSON if it parses (`42`, `true`, `{"a":1}`), else the text itself. */
function parseValue (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
