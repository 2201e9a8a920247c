import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import type { MembershipConfig, MembershipInit } from '../../../src/membership/config.ts'
import { MembershipCore } from '../../../src/membership/core.ts'
import type { MemberTable } from '../../../src/membership/table.ts'
import type { MemberEvent } from '../../../src/membership/member.ts'
import { DEFAULT_MAX_MEMBERS } from '../../../src/membership/constants.ts'
import { fnv1a } from '../../../src/membership/ring.ts'
import { SimClock, seeded } from './clock.ts'
import { SimNetwork } from './network.ts'
import { GossipModel } from './gossip.ts'
import { SimNode, simEntry, simId, EPOCH } from './node.ts'
import type { SimWorld } from './node.ts'

export interface Scenario {
  nodes: number
  /** Simulated seconds after the warm-up. */
  seconds: number
  loss: number
  seed: number
  /** A host crashes (no answer, no reset) every this many seconds. */
  crashEveryS: number
  /** A random live host is stopped for `pauseMs` every this many seconds (the false-positive probe). */
  pauseEveryS: number
  pauseMs: number
  /** A random host changes its entry every this many seconds (the dissemination probe). */
  changeEveryS: number
  /** A partition of this fraction of hosts, `partitionS` long, in the middle of the run (0: none). */
  partitionFraction: number
  partitionS: number
  membership?: MembershipInit
  /** Called every simulated 10 s with progress (for long runs). */
  progress?: (simulatedS: number) => void
}

export interface SimResult {
  nodes: number
  seconds: number
  /** Crash -> each live observer's member:fail, ms. */
  detection: number[]
  /** Crash -> 99.9 % of live observers know, ms. */
  detectionAll: number[]
  falsePositives: number
  /** Change -> 99.9 % of live nodes hold it, ms (one sample per change). */
  spread: number[]
  /** Changes that never reached 99.9 %. */
  spreadMissed: number
  messagesPerNodePerS: number
  bytesPerNodePerS: number
  byKind: Record<string, { perNodePerS: number, bytesPerNodePerS: number }>
  partition?: { detectedMs: number | null, mergedMs: number | null }
  /** Which hosts crashed when (simulated ms). */
  crashes: Array<{ id: string, atMs: number }>
  wallMs: number
  /** Wall time of building the converged grid (part of wallMs). */
  setupMs: number
}

const WARMUP_S = 10
/** A partition cuts off at most this many hosts (the simulator's time goes into their churn). */
const MAX_PARTITIONED = 20

/** Runs one scenario: a converged grid of `nodes`, then crashes, pauses and changes, measured. */
export function simulate (s: Scenario): SimResult {
  const started = performance.now()
  const random = seeded(s.seed)
  const clock = new SimClock()
  const config = simConfig(s.nodes, s.membership)
  const nodes: SimNode[] = []
  const net = new SimNetwork(clock, nodes, s.nodes, { minDelayMs: 0.2, maxDelayMs: 2, loss: s.loss, random })
  // gridd hangs up on a member it fails: gossipsub drops it from the mesh
  const gossip = new GossipModel(clock, net, s.nodes, random, (at, peer) => nodes[at]!.core.table.get(simId(peer), clock.now)?.state === 'failed')
  const crashedAt = new Map<string, number>()
  const failSeen = new Map<string, number[]>()
  const changes = new Map<string, { weight: number, at: number, seen: number, done: boolean }>()
  const spread: number[] = []
  let falsePositives = 0
  let partitioned = 0
  let live = s.nodes
  const world: SimWorld = { clock, net, gossip, nodes, random, observe }
  function observe (at: SimNode, events: MemberEvent[]): void {
    for (const { type, member } of events) {
      if (type === 'member:fail') {
        if (crashedAt.has(member.id)) (failSeen.get(member.id) ?? failSeen.set(member.id, []).get(member.id)!).push(clock.now - crashedAt.get(member.id)!)
        else if (partitioned === 0) falsePositives++
      }
      const change = changes.get(member.id)
      if (change != null && member.weight === change.weight && (type === 'member:update' || type === 'member:rejoin')) {
        change.seen++
        if (!change.done && change.seen >= Math.ceil(0.999 * (live - 1))) {
          change.done = true
          spread.push(clock.now - change.at)
        }
      }
    }
  }
  const converged = convergedTable(s.nodes, config)
  for (let i = 0; i < s.nodes; i++) nodes.push(new SimNode(i, simId(i), world, config, converged))
  for (const node of nodes) announced(node, config.heartbeatMs, random)
  for (const node of nodes) node.start()
  const setupMs = Math.round(performance.now() - started)
  clock.runUntil(WARMUP_S * 1000)
  net.traffic.reset()
  const t0 = clock.now
  const end = t0 + s.seconds * 1000
  const pick = (): SimNode | undefined => {
    for (let tries = 0; tries < 100; tries++) {
      const n = nodes[Math.floor(random() * nodes.length)]!
      if (!n.dead && n.stoppedUntil <= clock.now && n.side === 0) return n
    }
    return undefined
  }
  const schedule = (everyS: number, act: () => void): void => {
    if (everyS <= 0) return
    for (let t = t0 + everyS * 1000; t < end - 15_000; t += everyS * 1000) clock.at(t + random() * 500, act)
  }
  schedule(s.crashEveryS, () => {
    const n = pick()
    if (n == null) return
    n.dead = true
    live--
    crashedAt.set(n.id, clock.now)
  })
  schedule(s.pauseEveryS, () => {
    const n = pick()
    if (n != null) n.stoppedUntil = clock.now + s.pauseMs
  })
  schedule(s.changeEveryS, () => {
    const n = pick()
    if (n == null) return
    const weight = n.core.entry().weight + 1
    changes.set(n.id, { weight, at: clock.now, seen: 0, done: false })
    n.change({ weight })
  })
  let next = t0
  while (next < end) {
    next = Math.min(end, next + 10_000)
    clock.runUntil(next)
    s.progress?.((next - t0) / 1000)
  }
  const traffic = { messages: net.traffic.messages.reduce((a, b) => a + b, 0), bytes: net.traffic.bytes.reduce((a, b) => a + b, 0), byKind: new Map([...net.traffic.byKind].map(([kind, k]) => [kind, { ...k }])) }
  // the partition runs after the measured part, so its failures and slow spreads stay out of those figures
  const measuredFalsePositives = falsePositives
  let partition: SimResult['partition']
  if (s.partitionFraction > 0) {
    partition = schedulePartition()
    // until the merge (a second more), or a minute after the heal: nothing else is measured here
    const limit = end + (s.partitionS + 70) * 1000
    for (let t = end + s.partitionS * 1000; t < limit && partition.mergedMs == null; t += 1000) clock.runUntil(t)
    clock.runUntil(Math.min(limit, clock.now + 1000))
  }
  const liveAfter = nodes.filter(n => !n.dead).length
  const detection = [...failSeen.values()].flat()
  const detectionAll = [...failSeen.values()].filter(v => v.length >= Math.ceil(0.999 * (liveAfter - 1))).map(v => v.sort((a, b) => a - b)[Math.ceil(0.999 * (liveAfter - 1)) - 1]!)
  const perNode = (total: number): number => total / s.nodes / s.seconds
  const byKind: SimResult['byKind'] = {}
  for (const [kind, k] of traffic.byKind) byKind[kind] = { perNodePerS: round(2 * k.messages / s.nodes / s.seconds), bytesPerNodePerS: round(2 * k.bytes / s.nodes / s.seconds) }
  return {
    nodes: s.nodes,
    seconds: s.seconds,
    detection,
    detectionAll,
    falsePositives: measuredFalsePositives,
    spread,
    spreadMissed: [...changes.values()].filter(c => !c.done).length,
    messagesPerNodePerS: round(perNode(traffic.messages)),
    bytesPerNodePerS: round(perNode(traffic.bytes)),
    byKind,
    partition,
    crashes: [...crashedAt].map(([id, atMs]) => ({ id, atMs: Math.round(atMs) })),
    wallMs: Math.round(performance.now() - started),
    setupMs
  }

  /** Splits off a fraction of hosts mid-run, heals them, and times detection and the merge. */
  function schedulePartition (): NonNullable<SimResult['partition']> {
    const result: NonNullable<SimResult['partition']> = { detectedMs: null, mergedMs: null }
    const at = end + 5000
    clock.at(at, () => {
      partitioned = 1
      const cut = nodes.filter(n => !n.dead).slice(0, Math.max(1, Math.min(MAX_PARTITIONED, Math.round(s.partitionFraction * s.nodes))))
      for (const n of cut) n.side = 1
      const probe = nodes.find(n => n.side === 0 && !n.dead)!
      const far = cut[0]!
      const watch = (): void => {
        if (result.detectedMs == null && probe.core.table.get(far.id, clock.now)?.state === 'failed') result.detectedMs = Math.round(clock.now - at)
        if (clock.now < at + s.partitionS * 1000) clock.after(100, watch)
      }
      watch()
      clock.at(at + s.partitionS * 1000, () => {
        for (const n of cut) n.side = 0
        const healedAt = clock.now
        const merged = (): void => {
          if (probe.core.table.get(far.id, clock.now)?.state === 'alive' && far.core.table.get(probe.id, clock.now)?.state === 'alive') {
            result.mergedMs = Math.round(clock.now - healedAt)
            partitioned = 0
          } else if (clock.now < healedAt + 60_000) clock.after(100, merged)
        }
        merged()
      })
    })
    return result
  }
}

/**
 * Membership's defaults, but a table cap that fits the grid: a grid larger than the default cap
 * must raise it (`grid node --max-members`), or each table lists only the first 4,096 it hears of.
 */
export function simConfig (nodes: number, init: MembershipInit = {}): MembershipConfig {
  return resolveMembershipConfig({ maxMembers: Math.max(DEFAULT_MAX_MEMBERS, nodes), ...init })
}

/**
 * A grid that has run a while: every member's own word heard (as after the joins' syncs and
 * announcements), in one table every node forks (MemberTable.fork: each copies only the rows it
 * changes; N private tables of N rows would not fit at 5,000 nodes). Rows go in in ring order, so
 * each node's ring sorts what is already sorted.
 */
function convergedTable (size: number, config: MembershipConfig): MemberTable {
  const grid = new MembershipCore(config, simEntry('converged', EPOCH), 0, { reject: () => {}, certify: entry => entry, wallNow: () => EPOCH })
  const ids = Array.from({ length: size }, (_, i) => simId(i)).sort((a, b) => (fnv1a(a) - fnv1a(b)) || (a < b ? -1 : 1))
  for (const id of ids) grid.table.heard(simEntry(id, EPOCH), 0)
  return grid.table
}

/**
 * The node has announced itself, its last heartbeat at a random point of its refresh interval:
 * refreshes arrive at the steady rate (one a heartbeat grid-wide), not all at once.
 */
function announced (node: SimNode, heartbeatMs: number, random: () => number): void {
  const core = node.core
  for (let t = -random() * core.refreshMs() - 10 * heartbeatMs; t < 0 && core.publishDue(t); t += heartbeatMs) core.heartbeat(t, [])
}

function round (x: number): number {
  return Math.round(x * 10) / 10
}
