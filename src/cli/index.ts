import { Command, CommanderError } from 'commander'
import { nodeCommand } from './commands/node.ts'
import { certsCommand } from './commands/certs.ts'
import { statusCommand } from './commands/status.ts'
import { weightCommand, strategyCommand } from './commands/placement.ts'
import { AddonStartError, ForbiddenError, GridError, ERR_CERTIFICATE, ERR_CONFIG, ERR_CRL, ERR_DEFINITION, ERR_FILE_EXISTS, ERR_INVALID_ADDRESS, ERR_KEY_PERMISSIONS, ERR_NO_CERTS, ERR_VALUE_TOO_LARGE } from '../errors.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { channelCommand } from './commands/channel.ts'
import { scheduleCommand } from './commands/schedule.ts'
import { pipelineCommand } from './commands/pipeline.ts'
import { taskCommand } from './commands/task.ts'
import { sessionCommand } from './commands/session.ts'
import { applySwitchEnvironment } from './switch-env.ts'

/** Exit code for bad input: unknown flag, bad value, missing or unreadable certificates, a key file others may read. */
const EXIT_USAGE = 2
const USAGE_CODES = new Set([ERR_CONFIG, ERR_NO_CERTS, ERR_CERTIFICATE, ERR_KEY_PERMISSIONS, ERR_CRL, ERR_FILE_EXISTS, ERR_INVALID_ADDRESS, ERR_VALUE_TOO_LARGE, ERR_DEFINITION])

export function buildProgram (): Command {
  const program = new Command('grid')
    .description('gridd: a peer-to-peer, self-healing compute grid for Node.js')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError()
    .hook('preAction', (_program, action) => { applySwitchEnvironment(action, process.env) })
  program.addCommand(nodeCommand())
  program.addCommand(certsCommand())
  program.addCommand(statusCommand())
  program.addCommand(weightCommand())
  program.addCommand(strategyCommand())
  program.addCommand(channelCommand())
  program.addCommand(taskCommand())
  program.addCommand(sessionCommand())
  program.addCommand(scheduleCommand())
  program.addCommand(pipelineCommand())
  for (const cmd of program.commands) {
    cmd.exitOverride()
    for (const sub of cmd.commands) sub.exitOverride()
  }
  return program
}

export async function main (argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv)
  } catch (err) {
    process.exitCode = fail(err)
  }
}

function fail (err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version are not errors; commander already printed the message
    return err.exitCode === 0 ? 0 : EXIT_USAGE
  }
  if (err instanceof RemoteError || err instanceof ForbiddenError) {
    // the node refused the request: its error, by name and code, not our stack
    process.stderr.write(`grid: the node refused: ${err.name} (${err.code}): ${err.message}\n`)
    return USAGE_CODES.has(err.code) ? EXIT_USAGE : 1
  }
  if (err instanceof GridError) {
    process.stderr.write(`grid: ${err.message}\n`)
    return USAGE_CODES.has(usageCode(err)) ? EXIT_USAGE : 1
  }
  process.stderr.write(`grid: ${(err as Error)?.stack ?? String(err)}\n`)
  return 1
}

/** An add-on that refused its options (`--api-jwt-secret-file` unreadable, `--api-hook` naming no registered task) is bad input like any flag: its cause decides. */
function usageCode (err: GridError): string {
  return err instanceof AddonStartError && err.cause instanceof GridError ? err.cause.code : err.code
}
