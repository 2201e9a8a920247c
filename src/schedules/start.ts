import type { AddonContext } from '../addons/addon.ts'
import { ScheduleService } from './service.ts'
import type { FirerInit } from './firer.ts'
import { SCHEDULES_CHANNEL } from './types.ts'
import { SCHEDULES_PROTOCOL, answerScheduleRequest, scheduleRequestSchema } from './protocol.ts'

/**
 * The schedules of an API node: the service on the schedules channel (ready
 * first: the node joined and synced, 5 s at most, so it does not claim leases
 * from an empty view; a create on a view not synced yet is refused, see
 * ScheduleService.create), this node advertised as a firer, and the CLI's
 * protocol (clients and up).
 */
export async function startSchedules (ctx: Pick<AddonContext, 'peerId' | 'members' | 'tasks' | 'log' | 'channel' | 'handle'> & Partial<Pick<AddonContext, 'ownCertificateRevoked'>>, init: FirerInit = {}): Promise<ScheduleService> {
  const channel = ctx.channel(SCHEDULES_CHANNEL)
  await channel.ready
  const service = new ScheduleService({ self: ctx.peerId, channel, tasks: ctx.tasks, members: ctx.members, selfRevoked: ctx.ownCertificateRevoked, log: ctx.log.child({ component: 'schedules' }) }, init)
  await ctx.handle(SCHEDULES_PROTOCOL, (request, from) => answerScheduleRequest(service, request, from), scheduleRequestSchema, { roles: ['client', 'member', 'admin'] })
  service.start()
  return service
}
