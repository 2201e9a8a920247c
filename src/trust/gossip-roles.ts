import type { Message } from '@libp2p/gossipsub'
import type { PeerCredentials } from './credentials.ts'

/**
 * Only members gossip (DESIGN §11): the peer that handed us a message must hold
 * the member role, and so must its author when we know the author's certificate
 * (an author we never connected to was vouched for by the member relaying it,
 * which ran this same check). An author this node dropped for a revoked or
 * expired certificate is refused whoever relays it. Returns why a message is
 * refused, or undefined.
 */
export function gossipRefusal (roles: Pick<PeerCredentials, 'has' | 'get' | 'wasDropped'>, via: string, message: Message): { reason: 'forbidden', detail: string } | undefined {
  if (!roles.has(via, 'member')) return { reason: 'forbidden', detail: `relayed by ${via}, which lacks the member role` }
  if (message.type !== 'signed') return undefined
  const from = message.from.toString()
  if (roles.wasDropped(from)) return { reason: 'forbidden', detail: `authored by ${from}, whose certificate was revoked or expired` }
  const author = roles.get(from)
  if (author != null && !author.roles.has('member')) return { reason: 'forbidden', detail: `authored by ${message.from.toString()} ("${author.name}"), which lacks the member role` }
  return undefined
}

/**
 * The log line for a dropped gossip message (`what`: "membership gossip", "channel message"): a message
 * refused for who sent or wrote it (`forbidden`: a revoked author, a non-member) is well formed, and
 * calling it malformed sends an operator looking for a bug instead of at the revocation.
 */
export function droppedGossipLine (what: string, reason: string, detail: string): string {
  return reason === 'forbidden' ? `dropped ${what}: ${detail}` : `dropped malformed ${what}: ${detail}`
}
