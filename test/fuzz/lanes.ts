import type { FuzzContext, Target } from './context.ts'
import * as streams from './stream-attacks.ts'
import * as gossip from './gossip-attacks.ts'

/** Stalled streams held at once (each for 2–12 s): enough to press on per-peer stream limits, not to starve the run. */
const MAX_STALLS = 16
/** A real spawn (a forked worker the fuzzer then attaches to) at most this often: forks are costly on a small machine. */
const REAL_SPAWN_EVERY_MS = 3000

type Attack = (ctx: FuzzContext, target: Target) => Promise<void>

/**
 * Runs `count` lanes until `ms` have passed; each lane picks an attack and a
 * target node at random, runs it to its end (every attack is time-bounded)
 * and picks the next.
 */
export async function lanes (ctx: FuzzContext, count: number, ms: number, note: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms
  const stalls = new Set<Promise<void>>()
  let lastRealSpawn = 0
  const builtIns = new Map<string, string[]>()
  for (const t of ctx.targets) {
    // the libp2p protocols each node announced (identify), minus the ones with their own attacks
    const protocols = (await ctx.member.peerStore.get(t.peerId).catch(() => undefined))?.protocols ?? []
    builtIns.set(t.id, protocols.filter(p => !p.startsWith('/gridd') && !p.startsWith('/meshsub')))
  }
  const attacks: Array<[number, Attack]> = [
    [30, streams.oneShot],
    [8, streams.channelSync],
    // a stall holds its stream for seconds: it runs beside the lanes, not in one
    [4, async (c, t) => {
      if (stalls.size >= MAX_STALLS) return
      const stall = streams.stall(c, t).finally(() => { stalls.delete(stall) })
      stalls.add(stall)
    }],
    [3, async (c, t) => { await streams.builtIn(c, t, builtIns.get(t.id) ?? []) }],
    [6, async (c, t) => {
      const agent = c.targets.find(x => x.agent)
      if (agent == null) return
      const real = Date.now() - lastRealSpawn > REAL_SPAWN_EVERY_MS
      if (real) lastRealSpawn = Date.now()
      await streams.workerStream(c, agent, real)
    }],
    [15, async c => { await gossip.heartbeat(c) }],
    [15, async c => { await gossip.channelWrite(c) }],
    [10, gossip.rawRpc]
  ]
  const weight = attacks.reduce((n, [w]) => n + w, 0)
  const pick = (): Attack => {
    let r = ctx.rng.int(weight)
    for (const [w, attack] of attacks) { if (r < w) return attack; r -= w }
    return attacks[0]![1]
  }
  let lastNote = Date.now()
  await Promise.all(Array.from({ length: count }, async () => {
    while (Date.now() < deadline) {
      try {
        await pick()(ctx, ctx.rng.pick(ctx.targets))
      } catch (err) {
        ctx.counts.add('fuzzer errors', (err as Error).name)
      }
      // a publish resolves without I/O: without this, the lanes would starve the sockets they write to
      await new Promise(resolve => setImmediate(resolve))
      if (Date.now() - lastNote > 10_000) {
        lastNote = Date.now()
        await note()
      }
    }
  }))
  await Promise.all(stalls)
}
