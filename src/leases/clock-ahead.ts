import type { Channel } from '../channels/channel.ts'

/**
 * Whether `peer` is left out of a lease's candidates because its clock runs so far ahead that the
 * others refuse its channel writes (ClockWatch): a lease it wrote would be seen by itself alone. This
 * node asks it of itself (`self`) as the others ask it of this node, so both sides elect the same one.
 */
export function clockAheadOf (channel: Pick<Channel, 'clockAhead' | 'peerClockAhead'>, peer: string, self: string): boolean {
  return peer === self ? channel.clockAhead() : channel.peerClockAhead(peer)
}
