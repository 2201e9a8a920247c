import { readFile, stat } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { readModule } from '../../owner/module-source.ts'
import { requestTasks } from '../../tasks/client.ts'
import { SESSION_ID, TASK_ID, TASK_NAME } from '../../tasks/protocol-schema.ts'
import { taskPriority, taskRetries, taskTimeoutMs } from '../../checks/values.ts'
import type { ModuleSpec, TasksRequest } from '../../tasks/protocol-schema.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ClientLibp2p } from '../../transport/libp2p.ts'
import { numberOption } from '../options.ts'
import { printable } from '../format.ts'
import { ConfigError, RemoteError } from '../../errors.ts'
import { ERR_TASK_NOT_REGISTERED } from '../../errors/tasks.ts'
import { ownerWaitOption, printTask, waitAndPrint, withTasksClient, withTasksClientOptions } from './task-client.ts'
import type { TaskWaitFlags, TasksClientFlags } from './task-client.ts'

type IdAction<F> = (libp2p: ClientLibp2p, target: Multiaddr, id: string, signal: AbortSignal, flags: F) => Promise<void>

interface SubmitFlags extends TaskWaitFlags {
  input?: string
  inputFile?: string
  timeout?: number
  retries?: number
  priority?: number
  session?: string
}

/** `grid task run|submit|get|wait|cancel`: tasks through any member (DESIGN §12). */
export function taskCommand (): Command {
  return new Command('task')
    .description('run a task on the grid, or follow one by id, through any member')
    .addCommand(submitCommand('run', 'submit a task, wait for it, print its result as JSON (a task that throws: its remote stack, exit 1)'))
    .addCommand(submitCommand('submit', 'submit a task and print its id'))
    .addCommand(idCommand('get', 'print a task\'s state (and its value once completed) as JSON', 'node', async (libp2p, target, id, signal) => {
      printTask(await requestTasks(libp2p, target, { op: 'get', id }, { signal }))
    }))
    .addCommand(idCommand<TaskWaitFlags>('wait', 'wait until a task is final, also across a restart of its owner (--owner-wait); print its result like run', 'node', async (libp2p, target, id, signal, flags) => {
      await waitAndPrint(libp2p, target, id, signal, flags)
    }, 600_000).addOption(ownerWaitOption()))
    .addCommand(idCommand('cancel', 'cancel a task (a running one has its signal aborted); print its state', 'node', async (libp2p, target, id, signal) => {
      printTask(await requestTasks(libp2p, target, { op: 'cancel', id }, { signal }))
    }))
}

function submitCommand (name: 'run' | 'submit', description: string): Command {
  const cmd = new Command(name)
    .description(description)
    .argument('<module>', 'a task module file (shipped: needs a member certificate) or the name of a task registered on the node (`grid node --task`)')
    .option('--input <json>', 'the task\'s input, JSON')
    .option('--input-file <file>', 'the task\'s input, a JSON file')
    .addOption(numberOption('--timeout <ms>', 'longest one attempt may run', taskTimeoutMs))
    .addOption(numberOption('--retries <n>', 'attempts after a lost worker or agent (default: the session\'s, 3)', taskRetries))
    .addOption(numberOption('--priority <p>', 'higher runs first (default 0)', taskPriority))
    .addOption(new Option('--session <id>', 'submit into this session (`grid session open`) instead of the node\'s default one'))
  if (name === 'run') cmd.addOption(ownerWaitOption())
  return withTasksClientOptions(cmd, '"node" for a module file, "client" for a registered name', name === 'run' ? 600_000 : 30_000)
    .action(async (module: string, flags: SubmitFlags) => {
      if (flags.session != null && !SESSION_ID.test(flags.session)) throw new ConfigError('session', `"${flags.session}" is not a session id (<owner peer id>/s-…, as \`grid session open\` prints it)`)
      const spec = await moduleSpec(module)
      const request: TasksRequest = {
        op: 'submit',
        module: spec,
        input: await input(flags),
        session: flags.session,
        timeoutMs: flags.timeout,
        maxRetries: flags.retries,
        priority: flags.priority
      }
      // shipping code is a member's; a registered name is what a client certificate may run (DESIGN §11)
      const certName = spec.kind === 'source' ? 'node' : 'client'
      await withTasksClient(flags, certName, async (libp2p, target, signal) => {
        const submitted = await requestTasks(libp2p, target, request, { signal }).catch((err: unknown) => { throw notAFileHint(err, spec, module) })
        if (name === 'submit') {
          process.stdout.write(`${submitted.id ?? ''}\n`)
          return
        }
        const id = submitted.id ?? ''
        // Ctrl-C while waiting cancels the task: nobody else is waiting for it
        let ownerAway = false
        const interrupt = cancelOnInterrupt(id, () => ownerAway, async () => { await requestTasks(libp2p, target, { op: 'cancel', id, reason: 'its grid task run was interrupted' }, { signal: AbortSignal.timeout(CANCEL_ON_INTERRUPT_MS) }) })
        try {
          await waitAndPrint(libp2p, target, id, signal, flags, away => { ownerAway = away })
        } finally {
          interrupt.stop()
          // the wait may end (cancelled) before the cancel's answer: leaving now would close the node under it
          await interrupt.settled()
        }
      })
    })
}

function idCommand<F extends TasksClientFlags = TasksClientFlags> (name: string, description: string, certName: string, act: IdAction<F>, deadlineMs?: number): Command {
  const cmd = new Command(name).description(description).argument('<id>', 'the task id (`<owner peer id>/t-…`)')
  return withTasksClientOptions(cmd, `"${certName}" (a client certificate acts only on its own tasks)`, deadlineMs)
    .action(async (id: string, flags: F) => {
      if (!TASK_ID.test(id)) throw new ConfigError('id', `"${id}" is not a task id (<owner peer id>/t-…, as \`grid task submit\` prints it)`)
      await withTasksClient(flags, certName, async (libp2p, target, signal) => { await act(libp2p, target, id, signal, flags) })
    })
}

/** How long Ctrl-C on `grid task run` waits for its cancel's answer before it exits. */
const CANCEL_ON_INTERRUPT_MS = 5000

/**
 * Until `stop` is called, SIGINT/SIGTERM cancel task `id` and exit 130 (a second signal exits at once);
 * `settled` waits for a cancel under way (which then exits). `ownerAway`: whether the task's owner stopped
 * gracefully and has not answered the wait since (a restart): a cancel that then fails reached nobody, and the
 * task runs when the owner is back, which the message says, with the command that cancels it then.
 */
function cancelOnInterrupt (id: string, ownerAway: () => boolean, cancel: () => Promise<void>): { stop: () => void, settled: () => Promise<void> } {
  const signals = ['SIGINT', 'SIGTERM'] as const
  let cancelling: Promise<void> | undefined
  const stop = (): void => { for (const name of signals) process.off(name, onSignal) }
  function onSignal (name: NodeJS.Signals): void {
    stop()
    process.once(name, () => process.exit(130))
    cancelling = cancel().then(
      () => { process.stderr.write(`grid: ${name}: task ${id} cancelled\n`) },
      (err: unknown) => {
        const why = printable((err as Error).message)
        const then = ownerAway()
          ? `its owner node stopped and has not answered since (${why}); the owner runs the task when it starts again: \`grid task cancel ${id}\` cancels it then`
          : `${why}; it may go on: \`grid task cancel ${id}\` cancels it`
        process.stderr.write(`grid: ${name}: could not cancel task ${id}: ${then}\n`)
      }
    ).finally(() => process.exit(130))
  }
  for (const name of signals) process.once(name, onSignal)
  return { stop, settled: async () => { await cancelling } }
}

/**
 * A name that reads as a module file (`resize.ts`) and that the node does not register was most likely
 * a path from the wrong directory: say that no such file is here, next to the node's answer.
 */
function notAFileHint (err: unknown, spec: ModuleSpec, module: string): unknown {
  if (spec.kind !== 'name' || !(err instanceof RemoteError) || err.code !== ERR_TASK_NOT_REGISTERED || !MODULE_FILE.test(module)) return err
  return new RemoteError({ name: err.name, code: err.code, message: `${err.message}; and there is no file "${module}" in ${process.cwd()} to ship (give the task module's path from here)` })
}

const MODULE_FILE = /\.[cm]?[jt]s$/

/** An existing file is shipped (bundled as agents get it); anything else must be a registered task name. */
async function moduleSpec (module: string): Promise<ModuleSpec> {
  const isFile = await stat(module).then(s => s.isFile(), () => false)
  if (isFile) {
    const bundled = await readModule(module, 'task')
    return { kind: 'source', path: bundled.path, sha256: bundled.sha256, source: bundled.source }
  }
  if (!TASK_NAME.test(module)) throw new ConfigError('module', `"${module}" is neither a file nor a task name (1-64 letters, digits, '.', '_' or '-')`)
  return { kind: 'name', name: module }
}

async function input (flags: SubmitFlags): Promise<unknown> {
  if (flags.input != null && flags.inputFile != null) throw new ConfigError('input', 'give --input or --input-file, not both')
  if (flags.input != null) return parseInput('--input', flags.input)
  if (flags.inputFile != null) {
    const text = await readFile(flags.inputFile, 'utf8').catch((err: Error) => { throw new ConfigError('input-file', `cannot read ${flags.inputFile}: ${err.message}`) })
    return parseInput('--input-file', text)
  }
  return undefined
}

function parseInput (option: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ConfigError(option, `must be JSON: ${(err as Error).message}`)
  }
}
