import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { heartbeatSchema } from './schema.ts'
import type { Heartbeat } from './schema.ts'
import { MAX_HEARTBEAT_BYTES, MEMBERS_TOPIC } from './constants.ts'
import { parseJson } from '../transport/json-stream.ts'
import type { Logger } from '../logger.ts'
import type { MembershipPubsub } from './components.ts'

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
  private readonly log: Logger
  private readonly onHeartbeat: (heartbeat: Heartbeat, from: string) => void
  private readonly valid = new WeakMap<Uint8Array, Heartbeat>()

  constructor (pubsub: MembershipPubsub, log: Logger, onHeartbeat: (heartbeat: Heartbeat, from: string) => void) {
    this.pubsub = pubsub
    this.log = log
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
    const result = check(message)
    if (typeof result === 'string') {
      const from = message.type === 'signed' ? message.from.toString() : undefined
      this.log.warn({ from, via: peer.toString(), bytes: message.data.byteLength, reason: result }, `dropped malformed membership gossip: ${result}`)
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
    if (typeof heartbeat !== 'string') this.onHeartbeat(heartbeat, message.from.toString())
  }
}

/** The heartbeat, or why it is refused. */
function check (message: Message): Heartbeat | string {
  if (message.type !== 'signed') return 'unsigned message'
  if (message.data.byteLength > MAX_HEARTBEAT_BYTES) return `${message.data.byteLength} bytes exceeds the ${MAX_HEARTBEAT_BYTES} byte limit`
  let heartbeat: Heartbeat
  try {
    heartbeat = parseJson(decoder.decode(message.data), heartbeatSchema)
  } catch (err) {
    return (err as Error).message
  }
  const from = message.from.toString()
  if (heartbeat.member.id !== from) return `signed by ${from} but describes ${heartbeat.member.id}`
  return heartbeat
}
