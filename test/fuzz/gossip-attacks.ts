import type { Message } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromString } from '@libp2p/peer-id'
import { MEMBERS_TOPIC } from '../../src/membership/constants.ts'
import { topicOf } from '../../src/channels/schema.ts'
import type { Json } from './mutate.ts'
import { mutateJson } from './mutate.ts'
import { frame } from './frames.ts'
import { conversation } from './streams.ts'
import type { FuzzContext, Target } from './context.ts'
import { body, framed } from './context.ts'
import * as samples from './samples.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** The gossipsub protocol the raw sender speaks (the nodes also offer 1.0.0 and 1.2.0). */
const MESHSUB = '/meshsub/1.1.0'

/** Keeps what the fuzzing member hears on the grid's topics: heartbeats, channel writes, and the raw signed messages for replays. */
export function capture (ctx: FuzzContext): void {
  ctx.member.services.pubsub.addEventListener('message', (evt: CustomEvent<Message>) => {
    const m = evt.detail
    if (m.type !== 'signed') return
    try {
      const value = JSON.parse(decoder.decode(m.data)) as Record<string, Json>
      if (m.topic === MEMBERS_TOPIC) {
        ctx.corpus.add('heartbeat', value)
        ctx.corpus.add('member', value.member)
      } else if (Array.isArray(value.entries)) {
        for (const e of value.entries) ctx.corpus.add('channel-entry', e)
      }
    } catch {}
    const seqno = new Uint8Array(8)
    new DataView(seqno.buffer).setBigUint64(0, m.sequenceNumber)
    ctx.corpus.add('raw-gossip', { from: m.from.toMultihash().bytes, data: m.data, seqno, topic: m.topic, signature: m.signature } satisfies RPC.Message)
  })
}

/** A heartbeat published by the fuzzing member (signed by it): its own, mutated, or another node's body under its signature. */
export async function heartbeat (ctx: FuzzContext): Promise<void> {
  const text = body(ctx, samples.heartbeat(ctx.rng, ctx.corpus, ctx.self, ctx.nextSeq(), ctx.member.getMultiaddrs().map(a => a.toString())))
  await publish(ctx, MEMBERS_TOPIC, text)
}

/** A channel write published by the fuzzing member: signed by it (valid or for a forged origin), then maybe mutated. */
export async function channelWrite (ctx: FuzzContext): Promise<void> {
  const channel = ctx.rng.pick(samples.FUZZ_CHANNELS)
  const origin = ctx.rng.chance(0.6) ? ctx.self : ctx.rng.pick(ctx.forge.ids)
  let entry = samples.channelEntry(ctx.rng, ctx.corpus, origin)
  // mutated before signing: a well-signed write with odd contents (huge clock, -0, NaN as text...)
  if (ctx.rng.chance(0.3)) entry = mutateJson(ctx.rng, entry, ctx.forge)
  if (entry != null && typeof entry === 'object' && !Array.isArray(entry) && ctx.rng.chance(0.9)) entry.sig = ctx.sign(channel, entry)
  const message = { v: 1, channel: ctx.rng.chance(0.9) ? channel : ctx.rng.pick(samples.FUZZ_CHANNELS), entries: [entry] }
  const text = ctx.rng.chance(0.5) ? JSON.stringify(message) : body(ctx, message)
  await publish(ctx, topicOf(channel), text)
}

async function publish (ctx: FuzzContext, topic: string, text: string): Promise<void> {
  try {
    await ctx.member.services.pubsub.publish(topic, encoder.encode(text))
    ctx.counts.add(topic, 'published')
  } catch {
    ctx.counts.add(topic, 'publish-failed')
  }
}

/**
 * Raw gossipsub RPC from a second identity: replays of captured signed
 * messages (as they were, or with data or seqno changed, which breaks the
 * signature), messages claiming another sender, unsigned ones, subscription
 * and control floods, and broken protobuf.
 */
export async function rawRpc (ctx: FuzzContext, target: Target): Promise<void> {
  const kind = ctx.rng.pick(['replay', 'replay-mutated', 'forged-from', 'unsigned', 'subscriptions', 'control', 'broken'] as const)
  const captured = ctx.corpus.all<RPC.Message>('raw-gossip')
  const base: RPC.Message = captured.length > 0 ? { ...ctx.rng.pick(captured) } : { topic: MEMBERS_TOPIC, data: encoder.encode('{}') }
  let rpc: RPC = { subscriptions: [], messages: [] }
  switch (kind) {
    case 'replay': rpc.messages.push(base); break
    case 'replay-mutated':
      if (ctx.rng.chance(0.5)) base.data = encoder.encode(body(ctx, JSON.parse(decoder.decode(base.data ?? new Uint8Array())) as Json))
      else base.seqno = ctx.rng.bytes(8)
      rpc.messages.push(base)
      break
    case 'forged-from':
      rpc.messages.push({ ...base, from: peerIdFromString(ctx.rng.pick(ctx.forge.ids)).toMultihash().bytes, signature: ctx.rng.bytes(64), seqno: ctx.rng.bytes(8) })
      break
    case 'unsigned': rpc.messages.push({ topic: base.topic, data: base.data }); break
    case 'subscriptions':
      rpc.subscriptions = Array.from({ length: ctx.rng.pick([10, 1000, 5000]) }, (_, i) => ({ subscribe: ctx.rng.chance(0.8), topic: ctx.rng.chance(0.5) ? `gridd/channel/fz-${i}` : ctx.rng.pick([MEMBERS_TOPIC, 'x'.repeat(ctx.rng.pick([1, 300, 70_000]))]) }))
      break
    case 'control': {
      const ids = Array.from({ length: ctx.rng.pick([1, 500, 5000]) }, () => ctx.rng.bytes(20))
      rpc.control = {
        ihave: [{ topicID: MEMBERS_TOPIC, messageIDs: ids }],
        iwant: [{ messageIDs: ids }],
        graft: [{ topicID: ctx.rng.pick([MEMBERS_TOPIC, 'gridd/channel/fuzz-check', 'nope']) }],
        prune: [{ topicID: MEMBERS_TOPIC, peers: [{ peerID: ctx.rng.bytes(38), signedPeerRecord: ctx.rng.bytes(100) }], backoff: ctx.rng.pick([0, 1, 2 ** 32]) }],
        idontwant: [{ messageIDs: ids }]
      }
      break
    }
    case 'broken': rpc = { subscriptions: [], messages: [base] }; break
  }
  let bytes = RPC.encode(rpc)
  if (kind === 'broken') bytes = ctx.rng.chance(0.5) ? bytes.subarray(0, Math.floor(bytes.byteLength / 2)) : ctx.rng.bytes(bytes.byteLength)
  const writes = [kind === 'broken' ? framed(ctx, decoder.decode(bytes)) : frame(bytes)]
  const outcome = await conversation(ctx.raw, target.peerId, MESHSUB, [{ writes, read: false }], AbortSignal.timeout(5000))
  ctx.counts.add(`${MESHSUB} (raw ${kind})`, outcome)
}
