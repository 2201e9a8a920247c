import { Argument, Command, Option } from 'commander'
import { parsePeerAddress } from '../../transport/address.ts'
import { requestDeployments } from '../../deployments/protocol.ts'
import type { DeploymentRequest } from '../../deployments/protocol.ts'
import { packDeployment } from '../../deployments/pack.ts'
import { checkName } from '../../deployments/service.ts'
import type { DeploymentView } from '../../deployments/types.ts'
import { addClientOptions } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { formatTable, printableJson } from '../format.ts'
import { ConfigError, ERR_FORBIDDEN } from '../../errors.ts'
import type { GridError } from '../../errors.ts'

interface PipelineFlags extends ClientFlags {
  peer: string
  json?: boolean
  name?: string
  certName?: string
  params?: string
}

/** `grid pipeline deploy <file> --name N | list | status <name> | stop <name> | remove <name>`: pipeline deployments, through any member. */
export function pipelineCommand (): Command {
  const cmd = new Command('pipeline')
    .description('deploy a pipeline definition grid-wide (one member runs it, another takes over when it fails), list, status, stop, remove (a stopped one); deploy, stop and remove need a member certificate (--cert-name)')
    .addArgument(new Argument('<op>', 'what to do').choices(['deploy', 'list', 'status', 'stop', 'remove']))
    .argument('[target]', 'deploy: the definition file; status, stop, remove: the deployment name')
    .addOption(new Option('--peer <addr>', 'a member of the grid: host:port or multiaddr').makeOptionMandatory().env('GRID_PEER'))
    .option('--name <name>', 'deploy: the deployment name (a new version if it exists)')
    .option('--params <json>', 'deploy: JSON given to the definition\'s factories as ctx.params')
  // --name is the deployment's (as for `grid node`'s identity elsewhere): the certificate's is --cert-name
  return addClientOptions(cmd, '--cert-name')
    .action(async (op: string, target: string | undefined, flags: PipelineFlags) => {
      const request = await toRequest(op, target, flags)
      const address = parsePeerAddress(flags.peer)
      const reply = await withClient({ ...flags, name: flags.certName }, flags.peer, async (libp2p, signal) => await requestDeployments(libp2p, address, request, { signal }), undefined, { certFlag: '--cert-name' })
        .catch((err: unknown) => { throw explainRefusal(err, op, flags) })
      if (flags.json === true) {
        process.stdout.write(`${printableJson(reply)}\n`)
        return
      }
      const rows = (Array.isArray(reply) ? reply : [reply]) as DeploymentView[]
      process.stdout.write(rows.length === 0
        ? '(no deployments)\n'
        : formatTable(['NAME', 'VERSION', 'STATE', 'OWNER', 'TOKEN', 'PROCESSED', 'STAGES'], rows.map(d => [
          d.name, String(d.version), stateOf(d), d.owner ?? '-', d.token == null ? '-' : String(d.token),
          d.progress?.processed.join(' / ') ?? '-', d.stages.join(' -> ')
        ])))
      const error = rows.length === 1 ? rows[0]!.progress?.error : undefined
      if (error != null) process.stdout.write(`last error: ${error}\n`)
    })
}

/** deploy, stop and remove with the default `client` certificate: refused, and the way out is a flag of this command. */
function explainRefusal (err: unknown, op: string, flags: PipelineFlags): unknown {
  if ((err as GridError | undefined)?.code !== ERR_FORBIDDEN || flags.certName != null || flags.cert != null || !['deploy', 'stop', 'remove'].includes(op)) return err
  return new ConfigError('--cert-name', `the node refused: ${(err as Error).message}; ${op} needs a member (or admin) certificate, and this command used the client one: pass --cert-name <name> (\`grid certs issue cli --role member\` makes one; not the certificate of the node --peer runs as)`, { cause: err })
}

function stateOf (d: DeploymentView): string {
  if (d.stopped) return 'stopped'
  if (d.progress == null || d.progress.version !== d.version) return 'pending'
  return d.progress.state
}

async function toRequest (op: string, target: string | undefined, flags: PipelineFlags): Promise<DeploymentRequest> {
  if (op === 'list') {
    if (target != null) throw new ConfigError('list', 'takes no argument')
    return { op }
  }
  if (op !== 'deploy') {
    // `--name cli` (the certificate, as in every other command) was dropped without a word: stop then ran as client
    if (flags.name != null) throw new ConfigError('--name', `is the deployment's name, for deploy only: ${op} takes the name as its argument (grid pipeline ${op}${op === 'list' ? '' : ' <name>'}), and the certificate is picked with --cert-name`)
    if (flags.params != null) throw new ConfigError('--params', 'is for deploy only')
    if (target == null) throw new ConfigError(op, 'needs a deployment name')
    checkName(target)
    return { op: op as 'status' | 'stop' | 'remove', name: target }
  }
  if (target == null) throw new ConfigError('deploy', 'needs the definition file: grid pipeline deploy <file> --name <name>')
  if (flags.name == null) throw new ConfigError('name', 'deploy needs --name <name>')
  checkName(flags.name)
  let params: unknown
  if (flags.params != null) {
    try {
      params = JSON.parse(flags.params)
    } catch (err) {
      throw new ConfigError('params', `must be JSON: ${(err as Error).message}`)
    }
  }
  const code = await packDeployment(target)
  return { op, name: flags.name, code, ...(params !== undefined ? { params } : {}) }
}
