import { Command, Option } from 'commander'
import { parsePeerAddress } from '../../transport/address.ts'
import type { ClientLibp2p } from '../../transport/libp2p.ts'
import { intOption, logLevelOption, tlsOptions } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { printable, printableJson } from '../format.ts'
import type { TasksAnswer } from '../../tasks/protocol-schema.ts'
import { waitForTask } from '../../tasks/client.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ERR_NODE_STOPPED, GridError, RemoteError } from '../../errors.ts'

/** Flags every `grid task` and `grid session` command takes. */
export interface TasksClientFlags extends Omit<ClientFlags, 'timeout'> {
  peer: string
  deadline: number
  json?: boolean
}

/** `--peer`, the certificate flags, `--deadline` and `--log-level` on `cmd`; `certText` says which certificate is the default. */
export function withTasksClientOptions (cmd: Command, certText: string, deadlineMs = 30_000): Command {
  cmd.addOption(new Option('--peer <addr>', 'the member to go through: host:port or multiaddr (any member: ids name their owner)').makeOptionMandatory().env('GRID_PEER'))
  cmd.addOption(intOption('--deadline <ms>', 'give up after this long', 100, 2_147_483_647).default(deadlineMs))
  for (const option of tlsOptions('client', certText)) cmd.addOption(option)
  return cmd.addOption(logLevelOption('warn'))
}

/** Runs `fn` with a client of `flags.peer` under `--deadline`, as certificate `--name` or else `certName`. */
export async function withTasksClient<T> (flags: TasksClientFlags, certName: string, fn: (libp2p: ClientLibp2p, target: Multiaddr, signal: AbortSignal) => Promise<T>): Promise<T> {
  const target = parsePeerAddress(flags.peer)
  return await withClient({ ...flags, timeout: flags.deadline }, flags.peer, async (libp2p, signal) => await fn(libp2p, target, signal), certName)
}

/** How long `grid task wait|run` wait by default for a task's owner that stopped gracefully to start again (a restart, a rolling upgrade). */
export const OWNER_WAIT_MS = 300_000

/** Flags of the commands that wait for a task's end. */
export interface TaskWaitFlags extends TasksClientFlags {
  ownerWait: number
}

/** `--owner-wait`: how long a wait goes on while the task's owner restarts. */
export function ownerWaitOption (): Option {
  return intOption('--owner-wait <ms>', 'if the task\'s owner stops gracefully (a restart: its journal resumes the task), wait this long for it to come back, within --deadline (0: give up at once)', 0, 2_147_483_647).default(OWNER_WAIT_MS)
}

type FinalAnswer = TasksAnswer & { task: NonNullable<TasksAnswer['task']> }

/**
 * A final task on the terminal: its value as JSON on stdout (exit 0); otherwise
 * why it ended on stderr — for a task that threw, its remote stack, which names
 * the task's file and line — and exit code 1.
 */
export function printOutcome (answer: FinalAnswer): void {
  const { task } = answer
  if (task.status === 'completed') {
    process.stdout.write(`${printableJson(answer.value ?? null)}\n`)
    return
  }
  const error = task.error
  const what = error == null ? `ended ${task.status}` : `${task.status === 'failed' ? 'failed' : `ended ${task.status}`}: ${error.name}${error.code == null ? '' : ` (${error.code})`}: ${error.message}`
  process.stderr.write(`grid: task ${task.id} ${printable(what)}\n`)
  if (task.status === 'failed' && error?.stack != null) process.stderr.write(`${printable(error.stack, { keepLines: true })}\n`)
  process.exitCode = 1
}

/** A task as `grid task get` prints it: its info and, once completed, its value. */
export function printTask (answer: TasksAnswer): void {
  process.stdout.write(`${printableJson({ ...answer.task, value: answer.value })}\n`)
}

/**
 * Waits for task `id` and prints how it ended (printOutcome). If its owner stops
 * gracefully (its journal resumes the task: ERR_NODE_STOPPED, retryable), the wait
 * goes on while it restarts, up to `--owner-wait`; if that or `--deadline` runs
 * out first, says the task goes on and how to follow it (exit 1). `ownerAway` is
 * told when the owner stops so and when it answers again.
 */
export async function waitAndPrint (libp2p: ClientLibp2p, target: Multiaddr, id: string, signal: AbortSignal, flags: TaskWaitFlags, ownerAway: (away: boolean) => void = () => {}): Promise<void> {
  const deadlineMs = flags.deadline
  let away = false
  const told = (now: boolean): void => { away = now; ownerAway(now) }
  let answer: FinalAnswer
  try {
    answer = await waitForTask(libp2p, target, id, {
      signal,
      ownerReturnMs: flags.ownerWait,
      onOwnerStopped: () => {
        told(true)
        process.stderr.write(`grid: task ${id}: owner node stopped; waiting for it to return (--owner-wait ${flags.ownerWait} ms)…\n`)
      },
      onOwnerReturned: () => { told(false) }
    })
  } catch (err) {
    // its durable owner stopped gracefully and did not come back in time: the task did not end, its journal resumes it
    if (err instanceof GridError && err.code === ERR_NODE_STOPPED) {
      // the owner's own answer (--owner-wait 0), or waitForTask's past the bound, which says what the last attempt met
      const why = err instanceof RemoteError ? 'its owner is stopping' : `its owner stopped and was not reached again within --owner-wait ${flags.ownerWait} ms (last attempt: ${lastAttempt(err)})`
      process.stderr.write(`grid: task ${id} is not final: ${printable(why)}; the owner runs it when it starts again: \`grid task wait ${id}\` follows it then\n`)
      process.exitCode = 1
      return
    }
    if (!signal.aborted) throw err
    const owner = away ? ' (its owner node stopped and is not back: it runs the task when it starts again)' : ''
    process.stderr.write(`grid: task ${id} is not final after --deadline ${deadlineMs} ms${owner}; it goes on: \`grid task wait ${id}\` follows it\n`)
    process.exitCode = 1
    return
  }
  printOutcome(answer)
}

/** What the last ask met, as waitForTask keeps it (its `cause`). */
function lastAttempt (err: GridError): string {
  return err.cause instanceof Error ? err.cause.message : String(err.cause)
}
