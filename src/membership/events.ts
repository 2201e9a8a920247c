import type { EventEmitter } from 'node:events'
import type { Member, MemberEventType } from './member.ts'

/** Membership's typed events: each carries the member's row as it is after the change. */
export type MembershipEvents = { [E in MemberEventType]: [Member] }

export const MEMBER_EVENT_TYPES: readonly MemberEventType[] = ['member:join', 'member:update', 'member:suspect', 'member:fail', 'member:leave', 'member:rejoin']

/** What a subscriber needs of membership: the live table and its events (workers, channels). */
export interface MemberSource extends Pick<EventEmitter<MembershipEvents>, 'on' | 'off'> {
  members: () => Member[]
}
