import { Command, Option } from 'commander'
import { resolve } from 'node:path'
import { DEFAULT_CERT_VALIDITY_DAYS } from '../../certs/validity.ts'
import { intOption } from '../options.ts'

interface CertsFlags {
  dir: string
  force?: boolean
  days: number
}

export function certsCommand (): Command {
  const cmd = new Command('certs').description('make the grid CA and node certificates')
  const common = (c: Command): Command => c
    .addOption(new Option('--dir <dir>', 'certificates directory').default('certs'))
    .addOption(intOption('--days <days>', 'validity of issued certificates in days', 1, 36500).default(DEFAULT_CERT_VALIDITY_DAYS))
    .option('--force', 'overwrite existing files')
  cmd.addCommand(common(new Command('init'))
    .description('create ca.crt/ca.key, a node certificate (node) and a CLI client certificate (client)')
    .action(async (flags: CertsFlags) => {
      // certificate code (and @peculiar/x509) loads only for these commands, not in every `grid node`
      const { initCertsDir } = await import('../../certs/files.ts')
      const result = await initCertsDir(resolve(flags.dir), { force: flags.force, validityDays: flags.days })
      report(result.files, `grid CA created in ${result.dir}; keep ca.key safe: whoever holds it can join machines to the grid`)
    }))
  cmd.addCommand(common(new Command('issue'))
    .description('issue another certificate <name>.crt/<name>.key signed by the CA in --dir')
    .argument('<name>', 'certificate name (its CN and DNS SAN, and the file name)')
    .action(async (name: string, flags: CertsFlags) => {
      const { issueIntoDir } = await import('../../certs/files.ts')
      const result = await issueIntoDir(resolve(flags.dir), name, { force: flags.force, validityDays: flags.days })
      report(result.files, `issued "${name}": start a node with --certs ${flags.dir} --name ${name}`)
    }))
  return cmd
}

function report (files: string[], note: string): void {
  for (const file of files) process.stdout.write(`wrote ${file}\n`)
  process.stdout.write(`${note}\n`)
}
