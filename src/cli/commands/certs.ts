import { Command, Option } from 'commander'
import { resolve } from 'node:path'
import { checkCaKeyFiles } from '../key-file.ts'
import { DEFAULT_CERT_VALIDITY_DAYS } from '../../certs/validity.ts'
import { intOption } from '../options.ts'
import { parseRoles } from '../../trust/roles.ts'
import { revokeCommand } from './revoke.ts'
import { tokenCommand } from './token.ts'

interface CertsFlags {
  dir: string
  force?: boolean
  days: number
  role?: string
}

export function certsCommand (): Command {
  const cmd = new Command('certs').description('make the grid CA and node certificates')
  const common = (c: Command): Command => c
    .addOption(new Option('--dir <dir>', 'certificates directory').default('certs'))
    .addOption(intOption('--days <days>', 'validity of issued certificates in days', 1, 36500).default(DEFAULT_CERT_VALIDITY_DAYS))
    .option('--force', 'overwrite existing files')
  cmd.addCommand(common(new Command('init'))
    .description('create the CA (ca.crt, its key in ca/ca.key), a node certificate (node: member, agent), a CLI client certificate (client) and an admin certificate (admin)')
    .action(async (flags: CertsFlags) => {
      // certificate code (and @peculiar/x509) loads only for these commands, not in every `grid node`
      const { initCertsDir } = await import('../../certs/files.ts')
      const result = await initCertsDir(resolve(flags.dir), { force: flags.force, validityDays: flags.days })
      report(result.files, `grid CA created in ${result.dir}; keep ca/ca.key off the machines (nodes need only ca.crt and their own pair): whoever holds it can mint members`)
    }))
  cmd.addCommand(common(new Command('issue'))
    .description('issue another certificate <name>.crt/<name>.key signed by the CA in --dir')
    .argument('<name>', 'certificate name (its CN and DNS SAN, and the file name)')
    .option('--role <roles>', 'what the holder may do, comma-separated: agent, member, client, admin', 'member')
    .action(async (name: string, flags: CertsFlags) => {
      const roles = parseRoles(flags.role ?? 'member')
      // the CA key is a private key like any other: refused if group or others may read it
      await checkCaKeyFiles(resolve(flags.dir))
      const { issueIntoDir } = await import('../../certs/files.ts')
      const result = await issueIntoDir(resolve(flags.dir), name, { force: flags.force, validityDays: flags.days, roles })
      report(result.files, `issued "${name}" (roles ${roles.join(', ')}): ${roles.includes('member') ? `start a node with --certs ${flags.dir} --name ${name}` : `use it with --certs ${flags.dir} --name ${name}`}`)
    }))
  cmd.addCommand(revokeCommand())
  cmd.addCommand(tokenCommand())
  return cmd
}

function report (files: string[], note: string): void {
  for (const file of files) process.stdout.write(`wrote ${file}\n`)
  process.stdout.write(`${note}\n`)
}
