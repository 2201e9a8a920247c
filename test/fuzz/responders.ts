import type { Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import { SYNC_PROTOCOL as MEMBER_SYNC_PROTOCOL } from '../../src/membership/constants.ts'
import { SYNC_PROTOCOL as CHANNEL_SYNC_PROTOCOL } from '../../src/channels/schema.ts'
import type { Json } from './mutate.ts'
import type { FuzzContext } from './context.ts'
import { body, framed } from './context.ts'
import * as samples from './samples.ts'

const ANSWER_TIMEOUT_MS = 5000

/**
 * The other side of the sync protocols: when a node asks the fuzzing member
 * (member sync when it dials it, a channel snapshot exchange when it sees it
 * subscribe and at anti-entropy), the answer is mutated too, so the asking
 * code paths get fuzzed as well as the answering ones.
 */
export async function answerSyncs (ctx: FuzzContext): Promise<void> {
  await ctx.member.handle(MEMBER_SYNC_PROTOCOL, async (stream) => {
    await answer(ctx, stream, MEMBER_SYNC_PROTOCOL, () => [samples.memberSync(ctx.rng, ctx.corpus, ctx.forge.ids)])
  })
  await ctx.member.handle(CHANNEL_SYNC_PROTOCOL, async (stream) => {
    await answer(ctx, stream, CHANNEL_SYNC_PROTOCOL, () => {
      const entry = samples.channelEntry(ctx.rng, ctx.corpus, ctx.rng.chance(0.7) ? ctx.self : ctx.rng.pick(ctx.forge.ids))
      if (ctx.rng.chance(0.7)) (entry as Record<string, Json>).sig = ctx.sign(ctx.rng.pick(samples.FUZZ_CHANNELS), entry)
      const count = 1 + ctx.rng.int(3)
      return Array.from({ length: count }, (_, i) => ({ v: 2, open: true, digest: `fz-${ctx.rng.int(1000)}`, entries: [entry], more: i < count - 1 }))
    })
  })
}

/** Reads the node's request, writes the (mutated) answer messages, then ends the stream. */
async function answer (ctx: FuzzContext, stream: Stream, protocol: string, answers: () => Json[]): Promise<void> {
  const bytes = byteStream(stream)
  const signal = AbortSignal.timeout(ANSWER_TIMEOUT_MS)
  try {
    await bytes.read({ signal })
    for (const message of answers()) await bytes.write(framed(ctx, body(ctx, message)), { signal })
    await stream.close({ signal })
    ctx.counts.add(`${protocol} (answering a node)`, 'answered')
  } catch {
    stream.abort(new Error('fuzz answer failed'))
    ctx.counts.add(`${protocol} (answering a node)`, 'reset')
  }
}
