import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { heartbeatSchema } from './schema.ts'
import type { Heartbeat } from './schema.ts'
import { MAX_HEARTBEAT_BYTES, MEMBERS_TOPIC } from './constants.ts'
import { parseJson } from '../transport/json-stream.ts'
import type { Logger } from '../logger.ts'
import type { MembershipPubsub, MembershipRoles } from './components.ts'
import type { Rejections } from '../transport/rejections.ts'
import { gossipRefusal, droppedGossipLine } from '../trust/gossip-roles.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Heartbeats on gossipsub: publish our own, validate everyone's. A message
 * that is too large, not JSON, off-schema, or not authored by the member it
 * describes is logged, rejected (not forwarded, and gossipsub scores the
 * sender down) and never reaches the table.
 */
export class HeartbeatGossip {
  private readonly pubsub: MembershipPubsub
  private readonly roles: MembershipRoles
  private readonly log: Logger
  private readonly rejections: Rejections
  private readonly onHeartbeat: (heartbeat: Heartbeat, from: string) => void
  private readonly valid = new WeakMap<Uint8Array, Heartbeat>()

  constructor (pubsub: MembershipPubsub, roles: MembershipRoles, log: Logger, rejections: Rejections, onHeartbeat: (heartbeat: Heartbeat, from: string) => void) {
    this.pubsub = pubsub
    this.roles = roles
    this.log = log
    this.rejections = rejections
    this.onHeartbeat = onHeartbeat
  }

  start (): void {
    this.pubsub.topicValidators.set(MEMBERS_TOPIC, (peer, message) => this.validate(peer, message))
    this.pubsub.addEventListener('message', this.onMessage)
    this.pubsub.subscribe(MEMBERS_TOPIC)
  }

  stop (): void {
    this.pubsub.removeEventListener('message', this.onMessage)
    this.pubsub.topicValidators.delete(MEMBERS_TOPIC)
    try {
      this.pubsub.unsubscribe(MEMBERS_TOPIC)
    } catch {}
  }

  async publish (heartbeat: Heartbeat): Promise<void> {
    try {
      await this.pubsub.publish(MEMBERS_TOPIC, encoder.encode(JSON.stringify(heartbeat)))
    } catch (err) {
      this.log.debug({ err }, 'heartbeat not published')
    }
  }

  private validate (peer: PeerId, message: Message): TopicValidatorResult {
    const result = gossipRefusal(this.roles, peer.toString(), message) ?? check(message)
    if ('reason' in result) {
      const from = message.type === 'signed' ? message.from.toString() : undefined
      this.rejections.reject(MEMBERS_TOPIC, result.reason, from ?? peer.toString(), droppedGossipLine('membership gossip', result.reason, result.detail), result.detail, { via: peer.toString(), bytes: message.data.byteLength })
      return TopicValidatorResult.Reject
    }
    this.valid.set(message.data, result)
    return TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.topic !== MEMBERS_TOPIC || message.type !== 'signed') return
    // validated above; re-check only if gossipsub handed us a different buffer
    const heartbeat = this.valid.get(message.data) ?? check(message)
    if ('reason' in heartbeat) return
    // remote data: whatever it trips in the table is logged and dropped, never a crash
    try {
      this.onHeartbeat(heartbeat, message.from.toString())
    } catch (err) {
      this.rejections.reject(MEMBERS_TOPIC, 'handler', message.from.toString(), 'membership gossip failed in its handler', String(err), { err })
    }
  }
}

/** Why a message is refused: `reason` is the counter's label, `detail` the log's. */
interface Refusal { reason: string, detail: string }

/** The heartbeat, or why it is refused. */
function check (message: Message): Heartbeat | Refusal {
  if (message.type !== 'signed') return { reason: 'unsigned', detail: 'unsigned message' }
  if (message.data.byteLength > MAX_HEARTBEAT_BYTES) return { reason: 'size', detail: `${message.data.byteLength} bytes exceeds the ${MAX_HEARTBEAT_BYTES} byte limit` }
  let heartbeat: Heartbeat
  try {
    heartbeat = parseJson(decoder.decode(message.data), heartbeatSchema)
  } catch (err) {
    const detail = (err as Error).message
    return { reason: /not valid JSON/.test(detail) ? 'json' : 'schema', detail }
  }
  const from = message.from.toString()
  // StrictSign: a heartbeat speaks only for its signer
  if (heartbeat.member.id !== from) return { reason: 'signer', detail: `signed by ${from} but describes ${heartbeat.member.id}` }
  return heartbeat
}
