import { Option } from 'commander'
import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import type { GenericSchema } from 'valibot'
import { LOG_LEVELS } from './logger.ts'
import { ruleBroken } from '../checks/check.ts'

/** Commander option parsers that reject bad input with a message naming it (exit 2). */
export function intOption (flags: string, description: string, min: number, max: number): Option {
  return new Option(flags, description).argParser(value => {
    const n = /^-?\d+$/.test(value) ? Number(value) : NaN
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}-${max}, got "${value}"`)
    return n
  })
}

/** A number as people write it: 2, -0.5, 1.5e3 (anything else is NaN, refused by every piece). */
export function parseNumber (text: string): number {
  return /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i.test(text.trim()) ? Number(text) : NaN
}

/** A numeric flag checked by the same piece as its API option and the wire (src/checks/values.ts). */
export function numberOption (flags: string, description: string, piece: GenericSchema): Option {
  return new Option(flags, description).argParser(text => {
    const value = parseNumber(text)
    const broken = ruleBroken(piece, value)
    if (broken != null) throw new InvalidArgumentError(broken)
    return value
  })
}

export function listOption (flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: string[] | undefined) => [
    ...(previous ?? []),
    ...value.split(',').map(s => s.trim()).filter(s => s !== '')
  ])
}

export function logLevelOption (defaultLevel: string): Option {
  return new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(defaultLevel).env('GRID_LOG_LEVEL')
}

/** The TLS flags shared by every command. */
export function tlsOptions (defaultName: string, defaultText = `"${defaultName}"`, nameFlag = '--name'): Option[] {
  return [
    new Option('--certs <dir>', 'certificates directory (ca.crt, NAME.crt, NAME.key)').env('GRID_CERTS'),
    new Option(`${nameFlag} <name>`, `certificate name in --certs (default ${defaultText})`).env('GRID_CERT_NAME'),
    new Option('--ca <file>', 'grid CA certificate (PEM file)'),
    new Option('--cert <file>', 'this side\'s certificate (PEM file)'),
    new Option('--key <file>', 'this side\'s private key (PEM file)'),
    new Option('--dev', 'use the throwaway dev CA of this machine (one-machine grids only)')
  ]
}

/** What a command that asks one node needs besides its own flags: `--json`, `--timeout`, the TLS flags (a `client` certificate; its name flag `certNameFlag`, where `--name` means something else) and `--log-level` (warn). */
export function addClientOptions (cmd: Command, certNameFlag = '--name'): Command {
  cmd.option('--json', 'print JSON').addOption(intOption('--timeout <ms>', 'give up after this long', 100, 600_000).default(10_000))
  for (const option of tlsOptions('client', undefined, certNameFlag)) cmd.addOption(option)
  return cmd.addOption(logLevelOption('warn'))
}
