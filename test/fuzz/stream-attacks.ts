import { createHash } from 'node:crypto'
import { SYNC_PROTOCOL as MEMBER_SYNC_PROTOCOL } from '../../src/membership/constants.ts'
import { CLIENT_PROTOCOL, SYNC_PROTOCOL as CHANNEL_SYNC_PROTOCOL } from '../../src/channels/schema.ts'
import { CONTROL_PROTOCOL } from '../../src/control/control.ts'
import { STATUS_PROTOCOL } from '../../src/control/status.ts'
import { SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema } from '../../src/wire/spawn-protocol.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import type { Json } from './mutate.ts'
import { frame, varint, concat } from './frames.ts'
import { exchange, conversation } from './streams.ts'
import type { FuzzContext, Target } from './context.ts'
import { body, framed } from './context.ts'
import * as samples from './samples.ts'

/** The protocol of the fuzz echo add-on (test/fuzz/echo-addon.mjs). */
export const ECHO_PROTOCOL = '/gridd-fuzz/echo/1.0.0'
const STEP_TIMEOUT_MS = 5000

/** One-request protocols and a valid request for each. */
const ONE_SHOT: Array<{ protocol: string, on: (t: Target) => boolean, sample: (ctx: FuzzContext) => Json }> = [
  { protocol: MEMBER_SYNC_PROTOCOL, on: () => true, sample: ctx => samples.memberSync(ctx.rng, ctx.corpus, ctx.forge.ids) },
  { protocol: CLIENT_PROTOCOL, on: () => true, sample: ctx => samples.channelClient(ctx.rng) },
  { protocol: CONTROL_PROTOCOL, on: () => true, sample: ctx => samples.control(ctx.rng) },
  { protocol: STATUS_PROTOCOL, on: () => true, sample: ctx => samples.status(ctx.rng) },
  { protocol: SPAWN_PROTOCOL, on: t => t.agent, sample: ctx => samples.spawn(ctx.rng, ctx.corpus) },
  { protocol: ECHO_PROTOCOL, on: t => t.addon, sample: ctx => ({ hello: ctx.rng.int(100) }) }
]

/** Every gridd protocol a target speaks (for stalls): the one-shot ones, channel sync and the worker stream. */
export function protocolsOf (target: Target): string[] {
  return [...ONE_SHOT.filter(p => p.on(target)).map(p => p.protocol), CHANNEL_SYNC_PROTOCOL, ...(target.agent ? [WORKER_PROTOCOL] : [])]
}

/** One request on a one-request protocol: mutated, broken or as is; reads the answer. */
export async function oneShot (ctx: FuzzContext, target: Target): Promise<void> {
  const p = ctx.rng.pick(ONE_SHOT.filter(p => p.on(target)))
  // mostly the stream ends after the request; sometimes it stays open (the node's read deadline ends it)
  const outcome = await exchange(ctx.member, target.peerId, p.protocol, { writes: [framed(ctx, body(ctx, p.sample(ctx)))], endWrite: ctx.rng.chance(0.9), signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  ctx.counts.add(p.protocol, outcome)
}

/** Channel snapshot exchange: an ask (mutated), then, if a snapshot comes, mutated chunks back. */
export async function channelSync (ctx: FuzzContext, target: Target): Promise<void> {
  const channel = ctx.rng.pick(samples.FUZZ_CHANNELS)
  const ask = { v: 2, channel, digest: ctx.rng.chance(0.5) ? 'not-yours' : '' }
  const entry = samples.channelEntry(ctx.rng, ctx.corpus, ctx.rng.chance(0.7) ? ctx.self : ctx.rng.pick(ctx.forge.ids))
  if (ctx.rng.chance(0.7)) (entry as Record<string, Json>).sig = ctx.sign(channel, entry)
  const count = 1 + ctx.rng.int(3)
  const chunks = Array.from({ length: count }, (_, i) => framed(ctx, body(ctx, { v: 2, entries: [entry], more: i < count - 1 })))
  const outcome = await conversation(ctx.member, target.peerId, CHANNEL_SYNC_PROTOCOL, [
    { writes: [framed(ctx, body(ctx, ask))], read: true },
    { writes: chunks, read: false }
  ], AbortSignal.timeout(STEP_TIMEOUT_MS))
  ctx.counts.add(CHANNEL_SYNC_PROTOCOL, outcome)
}

/** A stream opened and left hanging: nothing written, half a length prefix, or a prefix and part of its body. */
export async function stall (ctx: FuzzContext, target: Target): Promise<void> {
  const protocol = ctx.rng.pick(protocolsOf(target))
  const kind = ctx.rng.pick(['silent', 'half-prefix', 'partial-body'] as const)
  const writes = kind === 'silent' ? [] : kind === 'half-prefix' ? [Uint8Array.of(0x80)] : [concat(varint(1000), new TextEncoder().encode('{"v":1,'))]
  // past the 5 s read deadline of most handlers
  const holdMs = 2000 + ctx.rng.int(10_000)
  const outcome = await exchange(ctx.member, target.peerId, protocol, { writes, holdMs, signal: AbortSignal.timeout(holdMs + STEP_TIMEOUT_MS) })
  ctx.counts.add(`${protocol} (stalled ${kind})`, outcome)
}

/** Libp2p's own protocols the nodes speak (identify, ping, ...): random and framed bytes. */
export async function builtIn (ctx: FuzzContext, target: Target, protocols: string[]): Promise<void> {
  if (protocols.length === 0) return
  const protocol = ctx.rng.pick(protocols)
  const writes = [ctx.rng.chance(0.5) ? ctx.rng.bytes(1 + ctx.rng.int(256)) : framed(ctx, body(ctx, { v: 1 }))]
  ctx.counts.add(protocol, await exchange(ctx.member, target.peerId, protocol, { writes, endWrite: ctx.rng.chance(0.9), signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }))
}

/** The worker stream: attach to a forged id, or to a worker the fuzzer had the agent spawn, then mutated batches. */
export async function workerStream (ctx: FuzzContext, target: Target, spawnReal: boolean): Promise<void> {
  let id = `w-${createHash('sha256').update(String(ctx.rng.next())).digest('hex').slice(0, 12)}`
  if (spawnReal) {
    const reply = await requestJson(ctx.member, target.peerId, SPAWN_PROTOCOL, {
      op: 'spawn', stage: 'fuzz', module: { path: '/fuzz/stage.mjs', sha256: samples.SHIPPED_SHA256, source: samples.SHIPPED_SOURCE }, resources: { cpu: 0.1, memoryMb: 64 }
    }, spawnResponseSchema, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined)
    ctx.counts.add(`${SPAWN_PROTOCOL} (real spawn)`, reply?.ok === true ? 'answered' : 'refused')
    if (reply?.ok === true && reply.worker != null) {
      id = reply.worker.id
      ctx.corpus.add('forged-worker-id', id)
    }
  }
  const attach = frame(JSON.stringify({ type: 'attach', id }))
  const batches = Array.from({ length: 1 + ctx.rng.int(4) }, () => {
    if (ctx.rng.chance(0.1)) return frame(JSON.stringify({ type: 'batch', items: Array.from({ length: 4097 }, (_, n) => ({ n, item: n })) }))
    return framed(ctx, body(ctx, samples.workerBatch(ctx.rng)))
  })
  const outcome = await conversation(ctx.member, target.peerId, WORKER_PROTOCOL, [
    { writes: [attach, ...batches], read: true }
  ], AbortSignal.timeout(STEP_TIMEOUT_MS))
  ctx.counts.add(WORKER_PROTOCOL, outcome)
}
