import type { PeerId } from '@libp2p/interface'
import type { GridLibp2p, ClientLibp2p } from '../../src/transport/libp2p.ts'
import type { Rng } from './rng.ts'
import type { Corpus } from './corpus.ts'
import type { Counts } from './counts.ts'
import type { Forgeries, Json } from './mutate.ts'
import { mutateJson, mutateText } from './mutate.ts'
import { FRAME_SHAPES, frame, shapedFrame } from './frames.ts'

/** A node under fuzzing. */
export interface Target {
  name: string
  id: string
  peerId: PeerId
  agent: boolean
  /** Serves the fuzz echo add-on's protocol. */
  addon: boolean
}

/** What every attack works with. */
export interface FuzzContext {
  rng: Rng
  /** The fuzzing member: a real grid libp2p node (gossipsub) with a valid member certificate. */
  member: GridLibp2p
  /** A second identity that speaks raw gossipsub RPC (its own inbound stream must not replace the member's). */
  raw: ClientLibp2p
  self: string
  targets: Target[]
  corpus: Corpus
  counts: Counts
  forge: Forgeries
  /** Signs a channel write as the fuzzer (valid signature for origin = self). */
  sign: (channel: string, entry: Json) => string
  /** The fuzzer's heartbeat sequence. */
  nextSeq: () => number
}

/**
 * A message as the fuzzer sends it: mostly a valid message mutated (so it gets
 * past the first checks), sometimes as sent, sometimes broken as text.
 */
export function body (ctx: FuzzContext, valid: Json): string {
  const r = ctx.rng.next()
  if (r < 0.1) return JSON.stringify(valid)
  if (r < 0.8) return JSON.stringify(mutateJson(ctx.rng, valid, ctx.forge))
  return mutateText(ctx.rng, JSON.stringify(valid))
}

/** `text` framed: usually whole, sometimes truncated, with an impossible prefix, doubled or replaced by garbage. */
export function framed (ctx: FuzzContext, text: string): Uint8Array {
  return ctx.rng.chance(0.8) ? frame(text) : shapedFrame(ctx.rng, text, ctx.rng.pick(FRAME_SHAPES))
}
