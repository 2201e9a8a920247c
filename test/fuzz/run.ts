import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createClientLibp2p, createGridLibp2p } from '../../src/transport/libp2p.ts'
import type { ClientLibp2p, GridLibp2p } from '../../src/transport/libp2p.ts'
import { GridNode } from '../../src/node.ts'
import { MEMBERS_TOPIC, SYNC_PROTOCOL as MEMBER_SYNC_PROTOCOL, MAX_SYNC_BYTES } from '../../src/membership/constants.ts'
import { syncMessageSchema } from '../../src/membership/schema.ts'
import { requestChannel } from '../../src/channels/client-protocol.ts'
import { topicOf } from '../../src/channels/schema.ts'
import { entrySigner } from '../../src/channels/signature.ts'
import type { Entry } from '../../src/channels/store.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import { procMemory } from '../bench/lib.ts'
import { Rng } from './rng.ts'
import { Corpus } from './corpus.ts'
import { Counts } from './counts.ts'
import { FuzzGrid, silentLog } from './grid.ts'
import type { FuzzContext, Target } from './context.ts'
import { FUZZ_CHANNELS } from './samples.ts'
import { lanes } from './lanes.ts'
import { capture } from './gossip-attacks.ts'
import { answerSyncs } from './responders.ts'
import { CHECK_CHANNEL, channelsEqual, converged, pipelineRuns, processesUp, rejectedCounts } from './checks.ts'
import type { CheckResult } from './checks.ts'

export interface FuzzOptions {
  /** How long the fuzzing member attacks. */
  seconds: number
  /** Seed of the random choices (a run is repeatable from it, timing aside). */
  seed: number
  /** `grid node` processes (the last one an agent). Default 3. */
  nodes?: number
  /** Attacks in flight at once. Default 6. */
  lanes?: number
  /** The most a node's RSS may grow over the run. Default 200 MB. */
  maxRssGrowthMb?: number
  /** Keep the nodes' logs even when every check passes (they are always kept when one fails). */
  keepLogs?: boolean
  /** Progress lines. */
  note?: (msg: string) => void
}

export interface FuzzReport {
  seed: number
  seconds: number
  counts: ReturnType<Counts['table']>
  total: number
  rejected: Record<string, Record<string, number>>
  rss: Record<string, { beforeMb: number | null, afterMb: number | null }>
  /** Per node: how often its event loop stood still long enough for membership to say it was paused, and the longest. */
  stalls: Record<string, { count: number, longestMs: number }>
  corpus: Record<string, number>
  checks: CheckResult[]
  ok: boolean
}

/** Starts a grid, fuzzes it for `seconds`, then checks it survived intact; everything it started is stopped. */
export async function runFuzz (options: FuzzOptions): Promise<FuzzReport> {
  const note = options.note ?? (() => {})
  const grid = await FuzzGrid.start({ nodes: options.nodes })
  let client: ClientLibp2p | undefined
  let member: GridLibp2p | undefined
  let raw: ClientLibp2p | undefined
  let owner: GridNode | undefined
  try {
    note(`grid up: ${grid.nodes.map(n => `${n.name}${n.agent ? ' (agent)' : ''} ${n.proc.peerId}`).join(', ')}`)
    client = await createClientLibp2p(await grid.tls('client'), silentLog)
    owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await grid.tls('owner'), peers: [grid.nodes[0]!.proc.address], heartbeatMs: 500 })
    const before = `before-${options.seed}`
    owner.channel(CHECK_CHANNEL).set('before', before)
    const preflight = await converged(client, grid, 30_000)
    if (!preflight.ok) throw new Error(`the grid did not form before fuzzing: ${preflight.detail}`)
    // every node opens the check channel (a list does), so each subscribes to its topic and gets fuzzed there
    for (const n of grid.nodes) await requestChannel(client, multiaddr(`/ip4/127.0.0.1/tcp/${n.proc.port}/p2p/${n.proc.peerId}`), { op: 'list', channel: CHECK_CHANNEL })

    const fuzzTls = await grid.tls('node')
    member = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: fuzzTls, log: silentLog })
    raw = await createClientLibp2p(await grid.tls('fuzz-raw'), silentLog)
    const targets: Target[] = grid.nodes.map(n => ({ name: n.name, id: n.proc.peerId, peerId: peerIdFromString(n.proc.peerId), agent: n.agent, addon: n.addon }))
    const sign = entrySigner(fuzzTls.key)
    let seq = 0
    const ctx: FuzzContext = {
      rng: new Rng(options.seed),
      member,
      raw,
      self: member.peerId.toString(),
      targets,
      corpus: new Corpus(),
      counts: new Counts(),
      forge: { ids: [...targets.map(t => t.id), owner.peerId] },
      sign: (channel, entry) => sign(channel, entry as unknown as Entry),
      nextSeq: () => ++seq
    }
    for (const topic of [MEMBERS_TOPIC, ...FUZZ_CHANNELS.map(topicOf)]) member.services.pubsub.subscribe(topic)
    capture(ctx)
    await answerSyncs(ctx)
    for (const n of grid.nodes) {
      const address = multiaddr(`/ip4/127.0.0.1/tcp/${n.proc.port}/p2p/${n.proc.peerId}`)
      await member.dial(address)
      await raw.dial(address)
      // seeds for the member-sync mutations: the node's real table
      const table = await requestJson(member, address, MEMBER_SYNC_PROTOCOL, { v: 1, members: [] }, syncMessageSchema, { maxBytes: MAX_SYNC_BYTES, signal: AbortSignal.timeout(5000) })
      for (const m of table.members) ctx.corpus.add('member', m)
    }

    const rssBefore = await Promise.all(grid.nodes.map(async n => (await procMemory(n.proc.proc.pid))?.vmRssMb ?? null))
    note(`fuzzing for ${options.seconds} s (seed ${options.seed}) as ${ctx.self}`)
    const rssNow = async (): Promise<string> => (await Promise.all(grid.nodes.map(async n => `${n.name} ${(await procMemory(n.proc.proc.pid))?.vmRssMb ?? '-'} MB`))).join(', ')
    await lanes(ctx, options.lanes ?? 6, options.seconds * 1000, async () => { note(`${ctx.counts.total()} messages so far; RSS ${await rssNow()}`) })
    note(`fuzzing over: ${ctx.counts.total()} messages; checking the grid`)
    await member.stop()
    await raw.stop()
    member = undefined
    raw = undefined

    const checks: CheckResult[] = [processesUp(grid)]
    checks.push(await converged(client, grid, 30_000))
    const after = `after-${options.seed}`
    owner.channel(CHECK_CHANNEL).set('after', after)
    checks.push(await channelsEqual(client, grid, { before, after }, 30_000))
    checks.push(await pipelineRuns(owner, 60_000))
    const rssAfter = await Promise.all(grid.nodes.map(async n => (await procMemory(n.proc.proc.pid))?.vmRssMb ?? null))
    const limit = options.maxRssGrowthMb ?? 200
    const growth = grid.nodes.map((n, i) => ({ n, grew: (rssAfter[i] ?? Infinity) - (rssBefore[i] ?? 0) }))
    checks.push({ name: `RSS growth of every node below ${limit} MB`, ok: growth.every(g => g.grew < limit), detail: growth.map(g => `${g.n.name} ${g.grew.toFixed(1)} MB`).join(', ') })
    checks.push(processesUp(grid))
    const passed = checks.every(c => c.ok)
    if (!passed || options.keepLogs === true) {
      // the nodes' whole logs, for the finding: the grid's temp dir goes with it
      const dir = await mkdtemp(join(tmpdir(), `gridd-fuzz-logs-${options.seed}-`))
      for (const n of grid.nodes) await writeFile(join(dir, `${n.name}.log`), n.proc.output())
      note(`node logs kept in ${dir}`)
    }
    const rejected: FuzzReport['rejected'] = {}
    for (const n of grid.nodes) rejected[n.name] = await rejectedCounts(n).catch(() => ({}))
    return {
      seed: options.seed,
      seconds: options.seconds,
      counts: ctx.counts.table(),
      total: ctx.counts.total(),
      rejected,
      rss: Object.fromEntries(grid.nodes.map((n, i) => [`${n.name}${n.agent ? ' (agent)' : ''}`, { beforeMb: rssBefore[i] ?? null, afterMb: rssAfter[i] ?? null }])),
      corpus: ctx.corpus.sizes(),
      stalls: Object.fromEntries(grid.nodes.map(n => {
        const paused = n.proc.lines.filter(l => l.msg === 'this node was paused; resetting failure detection').map(l => Number(l.pausedMs))
        return [n.name, { count: paused.length, longestMs: Math.max(0, ...paused) }]
      })),
      checks,
      ok: checks.every(c => c.ok)
    }
  } finally {
    for (const stop of [member, raw, client, owner]) await Promise.resolve(stop?.stop()).catch(() => {})
    await grid.stop()
  }
}
