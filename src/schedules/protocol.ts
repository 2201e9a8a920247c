import * as v from 'valibot'
import type { Libp2p, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { requestReply } from '../wire/reply.ts'
import type { ScheduleService, ScheduleView } from './service.ts'

/**
 * `grid schedule add|list|rm|pause|resume` speaks this protocol to an API node
 * (served by the API add-on): the CLI's one credential is the grid's client
 * certificate and its one address a member's `--peer`, as for `grid task`.
 */
export const SCHEDULES_PROTOCOL = '/gridd/schedules/1.0.0'

export const scheduleRequestSchema = v.variant('op', [
  v.object({ op: v.literal('add'), spec: v.unknown() }),
  v.object({ op: v.literal('list') }),
  v.object({ op: v.picklist(['rm', 'pause', 'resume']), id: v.pipe(v.string(), v.maxLength(64)) })
])
export type ScheduleRequest = v.InferOutput<typeof scheduleRequestSchema>

/** Answers one request for the peer `from` (its schedules are `peer:<id>`'s; admin rights go through the HTTP API). */
export function answerScheduleRequest (schedules: ScheduleService, request: ScheduleRequest, from: string): ScheduleView | ScheduleView[] {
  const caller = { subject: `peer:${from}`, admin: false }
  switch (request.op) {
    case 'add': return schedules.create(request.spec, caller)
    case 'list': return schedules.list()
    case 'rm': return schedules.remove(request.id, caller)
    case 'pause': return schedules.setPaused(request.id, true, caller)
    case 'resume': return schedules.setPaused(request.id, false, caller)
  }
}

/** The CLI side: one request; the node's refusal comes back as a RemoteError with its code. */
export async function requestSchedules (libp2p: Libp2p, target: Multiaddr, request: ScheduleRequest, options: AbortOptions = {}): Promise<unknown> {
  return await requestReply(libp2p, target, SCHEDULES_PROTOCOL, request, options)
}
