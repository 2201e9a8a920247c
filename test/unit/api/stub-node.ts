import type { Channel } from '../../../src/channels/channel.ts'
import { memoryChannel } from '../schedules/memory-channel.ts'
import { Session } from '../../../src/tasks/session.ts'
import type { Task } from '../../../src/tasks/task.ts'
import type { AddonTasks } from '../../../src/addons/host.ts'
import type { Member } from '../../../src/membership/member.ts'
import pino from 'pino'

/**
 * A stub node for the API's unit tests: one real Session whose tasks a test
 * drives by hand (`queued` holds them), registered name `noop`.
 */
export function stubNode (): { node: { peerId: string, members: () => Member[], self: () => Member, tasks: AddonTasks, log: pino.Logger, certificateRevoked: (serial: string) => boolean, channel: (name: string) => Channel, handle: () => Promise<void> }, queued: Task[], session: Session } {
  const queued: Task[] = []
  const host = { enqueue: (task: Task) => { queued.push(task) }, cancel: (task: Task, reason: string) => { task.mark('cancelled', { name: 'TaskCancelledError', message: reason }) } }
  const session = new Session('P', {}, host, 'P/s-default', true)
  // the default session, then each one opened (POST /v1/sessions opens a new one, as a node does)
  const sessions = [session]
  const tasks = {
    submit: (module: string, input: unknown, options?: Parameters<Session['submit']>[2]) => session.submit(module, input, options),
    getTask: (id: string) => sessions.map(s => s.get(id)).find(t => t != null),
    getSession: (id: string) => sessions.find(s => s.id === id),
    sessions: () => [...sessions],
    session: (options: ConstructorParameters<typeof Session>[1] = {}, id?: string, keptOpen = false, opener?: string) => { const s = new Session('P', options, host, id, keptOpen, opener); sessions.push(s); return s },
    register: () => {},
    registeredModule: (name: string) => name === 'noop' ? '/noop.mjs' : undefined,
    registeredNames: () => ['noop']
  } as unknown as AddonTasks
  const self = { id: 'P', state: 'alive', role: 'member', addresses: [], weight: 1, lastSeenMs: 0, load: { cpu: 0, workers: 0, maxWorkers: 0 } } as unknown as Member
  const channels = new Map<string, Channel>()
  const channel = (name: string): Channel => channels.get(name) ?? channels.set(name, memoryChannel(name)).get(name)!
  return { node: { peerId: 'P', members: () => [], self: () => self, tasks, log: pino({ level: 'silent' }), certificateRevoked: () => false, channel, handle: async () => {} }, queued, session }
}
