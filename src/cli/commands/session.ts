import { Command, Option } from 'commander'
import { requestTasks } from '../../tasks/client.ts'
import { MAX_LIST, SESSION_ID, TASK_NAME } from '../../tasks/protocol-schema.ts'
import { taskPriority, taskRetries, taskTimeoutMs } from '../../checks/values.ts'
import type { SessionSummary, TasksAnswer } from '../../tasks/protocol-schema.ts'
import { TASK_STATUSES } from '../../tasks/types.ts'
import type { TaskStatus } from '../../tasks/types.ts'
import { intOption, numberOption } from '../options.ts'
import { formatTable, printableJson } from '../format.ts'
import { ConfigError } from '../../errors.ts'
import { withTasksClient, withTasksClientOptions } from './task-client.ts'
import type { TasksClientFlags } from './task-client.ts'

const COUNT_COLUMNS = [...TASK_STATUSES, 'retries'] as const

interface ShowFlags extends TasksClientFlags {
  status?: TaskStatus
  limit?: number
}

interface OpenFlags extends TasksClientFlags {
  sessionName?: string
  timeout?: number
  retries?: number
  priority?: number
}

/** `grid session list|show|open|close|cancel`: sessions of tasks (ArmoniK's), counted by status, through any member. */
export function sessionCommand (): Command {
  const list = withTasksClientOptions(new Command('list').description('the sessions a node owns, with their tasks counted by status').option('--json', 'print JSON'), '"node" (a client certificate is listed only the default session and those it opened)')
    .action(async (flags: TasksClientFlags) => {
      // the member's view by default, as `grid session show`: a client's lists only the sessions it may use
      const answer = await withTasksClient(flags, 'node', async (libp2p, target, signal) => await requestTasks(libp2p, target, { op: 'session-list' }, { signal }))
      const sessions = answer.sessions ?? []
      process.stdout.write(flags.json === true ? `${printableJson(sessions)}\n` : sessionTable(sessions))
    })
  const show = withTasksClientOptions(new Command('show').description('a session\'s counts by status and its tasks').argument('<id>', 'the session id (`<owner peer id>/s-…`)')
    .option('--json', 'print JSON')
    .addOption(new Option('--status <status>', 'only tasks in this status').choices(TASK_STATUSES))
    .addOption(intOption('--limit <n>', `list at most this many tasks (default 1000, at most ${MAX_LIST})`, 0, MAX_LIST)), '"node" (a client certificate is shown only its own tasks)')
    .action(async (id: string, flags: ShowFlags) => {
      checkSessionId(id)
      // as `grid task get`: the member's view by default; a client's lists only the tasks it submitted
      const answer = await withTasksClient(flags, 'node', async (libp2p, target, signal) => await requestTasks(libp2p, target, { op: 'session-show', id, status: flags.status, limit: flags.limit }, { signal }))
      if (flags.json === true) {
        process.stdout.write(`${printableJson({ ...answer.session, tasks: answer.tasks ?? [] })}\n`)
        return
      }
      process.stdout.write(sessionTable(answer.session == null ? [] : [answer.session]))
      const tasks = answer.tasks ?? []
      if (tasks.length > 0) process.stdout.write(`\n${formatTable(['TASK', 'STATUS', 'ATTEMPTS', 'PRIORITY', 'MODULE'], tasks.map(t => [t.id, t.status, String(t.attempts), String(t.priority), t.module]))}`)
    })
  const open = withTasksClientOptions(new Command('open').description('open a session on the node (its tasks get its defaults); print its id')
    .option('--session-name <name>', 'a name to show in lists')
    .addOption(numberOption('--timeout <ms>', 'default longest attempt of its tasks', taskTimeoutMs))
    .addOption(numberOption('--retries <n>', 'default retries of its tasks after a lost worker or agent', taskRetries))
    .addOption(numberOption('--priority <p>', 'default priority of its tasks', taskPriority)), '"node"')
    .action(async (flags: OpenFlags) => {
      if (flags.sessionName != null && !TASK_NAME.test(flags.sessionName)) throw new ConfigError('session-name', 'must be 1-64 letters, digits, \'.\', \'_\' or \'-\'')
      const request = { op: 'session-open' as const, name: flags.sessionName, timeoutMs: flags.timeout, maxRetries: flags.retries, priority: flags.priority }
      const answer = await withTasksClient(flags, 'node', async (libp2p, target, signal) => await requestTasks(libp2p, target, request, { signal }))
      process.stdout.write(`${answer.id ?? ''}\n`)
    })
  return new Command('session')
    .description('sessions of tasks: counts by status, open, close, cancel (through any member)')
    .addCommand(list)
    .addCommand(show)
    .addCommand(open)
    .addCommand(idCommand('close', 'close a session: no new tasks; those submitted run to the end', 'session-close'))
    .addCommand(idCommand('cancel', 'cancel every task of a session not yet final (and close it, unless it is the default session)', 'session-cancel'))
}

function idCommand (name: string, description: string, op: 'session-close' | 'session-cancel'): Command {
  return withTasksClientOptions(new Command(name).description(description).argument('<id>', 'the session id (`<owner peer id>/s-…`)').option('--json', 'print JSON'), '"node" (a member\'s, or an admin\'s)')
    .action(async (id: string, flags: TasksClientFlags) => {
      checkSessionId(id)
      const answer: TasksAnswer = await withTasksClient(flags, 'node', async (libp2p, target, signal) => await requestTasks(libp2p, target, { op, id }, { signal }))
      if (flags.json === true) process.stdout.write(`${printableJson({ ...answer.session, cancelled: answer.cancelled })}\n`)
      else if (op === 'session-cancel') process.stdout.write(`${id}: ${answer.cancelled ?? 0} task(s) cancelled\n`)
      else process.stdout.write(`${id}: closed\n`)
    })
}

function checkSessionId (id: string): void {
  if (!SESSION_ID.test(id)) throw new ConfigError('id', `"${id}" is not a session id (<owner peer id>/s-…, as \`grid session list\` shows it)`)
}

function sessionTable (sessions: SessionSummary[]): string {
  if (sessions.length === 0) return '(no sessions)\n'
  return formatTable(['SESSION', 'NAME', 'STATE', ...COUNT_COLUMNS.map(c => c.toUpperCase())], sessions.map(s => [
    s.id, s.name, s.closed ? 'closed' : 'open', ...COUNT_COLUMNS.map(c => String(s.counts[c]))
  ]))
}
