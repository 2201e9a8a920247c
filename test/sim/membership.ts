/**
 * `npm run sim:membership`: the real membership logic (MembershipCore: the
 * member table, Lifeguard suspicion, the watchers' ring, when to gossip)
 * driven by a simulated network and clock — delay, loss, crashes, pauses, a
 * partition — for 100, 1,000 and 5,000 nodes (`--sizes`). gossipsub is
 * modelled (test/sim/membership/gossip.ts); everything membership decides is
 * its own code.
 *
 *   npm run sim:membership -- [--quick] [--sizes 100,1000,5000] [--minutes 10] [--loss 0.01] [--seed 1]
 *
 * Figures per size: detection of a crashed host (p50/p99 over every observer,
 * and the time until 99.9 % know), false failures under random 2 s pauses, the
 * time a change takes to reach 99.9 % of nodes, and messages and bytes per
 * node per second. Targets (issue #19, at 1,000 nodes with 1 % loss): detection
 * p99 <= 5 s, 0 false failures, a change at 99.9 % within 3 s; messages per
 * node flat from the smallest size to the largest (at most 2x). Also per size:
 * what one node's real member table costs at that size (what every machine of
 * such a grid pays; `node --expose-gc`, as the npm script runs it), and the
 * simulator's own wall time and peak memory.
 */
import { runBench } from '../bench/report.ts'
import type { Figure, Row, TargetSpec } from '../bench/report.ts'
import { simulate, simConfig } from './membership/run.ts'
import { tableBytesPerNode } from './membership/table-memory.ts'
import type { SimResult } from './membership/run.ts'

function percentile (values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!)
}

await runBench('membership-sim', ['--sizes', '--minutes', '--loss', '--seed'], async (args) => {
  const sizes = (args.text('--sizes') ?? (args.quick ? '100,1000' : '100,1000,5000')).split(',').map(Number)
  if (sizes.some(n => !Number.isInteger(n) || n < 5 || n > 20_000)) throw new Error('--sizes: integers from 5 to 20000')
  const minutes = args.number('--minutes', args.quick ? 2 : 10)
  const loss = args.number('--loss', 0.01)
  const seed = args.number('--seed', 1)
  const results: SimResult[] = []
  const costs = new Map<number, { tableBytes: number | null, peakRssMb: number }>()
  for (const nodes of sizes) {
    // the largest grid runs shorter: its cost is the simulator's, not the grid's
    const seconds = Math.round(minutes * 60 * (nodes > 2000 ? 0.25 : 1))
    const tableBytes = tableBytesPerNode(nodes, simConfig(nodes))
    process.stdout.write(`${nodes} nodes, ${seconds} simulated s, ${loss * 100} % loss; one node's member table ${tableBytes == null ? '(not measured: run with --expose-gc)' : `${(tableBytes / 2 ** 20).toFixed(2)} MB (${Math.round(tableBytes / nodes)} B a row)`} ... `)
    const r = simulate({ nodes, seconds, loss, seed, crashEveryS: 20, pauseEveryS: 10, pauseMs: 2000, changeEveryS: 15, partitionFraction: 0.1, partitionS: 10 })
    results.push(r)
    // the process's peak so far: sizes run smallest first, so it is this size's
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
    costs.set(nodes, { tableBytes, peakRssMb })
    process.stdout.write(`done in ${(r.wallMs / 1000).toFixed(0)} s (setup ${(r.setupMs / 1000).toFixed(1)} s), peak RSS ${peakRssMb} MB: detection p99 ${percentile(r.detection, 0.99)} ms, false ${r.falsePositives}, spread p99 ${percentile(r.spread, 0.99)} ms, ${r.messagesPerNodePerS} msg/node/s\n`)
  }
  const figures: Record<string, Figure> = {}
  const rows: Row[] = []
  for (const r of results) {
    const n = r.nodes
    figures[`detectP50_${n}`] = { value: percentile(r.detection, 0.5), unit: 'ms', label: 'p50' }
    figures[`detectP99_${n}`] = { value: percentile(r.detection, 0.99), unit: 'ms', label: 'p99' }
    figures[`falsePositives_${n}`] = { value: r.falsePositives, unit: '', label: 'false failures' }
    figures[`spreadP99_${n}`] = { value: percentile(r.spread, 0.99), unit: 'ms', label: 'p99' }
    figures[`messages_${n}`] = { value: r.messagesPerNodePerS, unit: 'msg/s', label: 'per node' }
    figures[`bytes_${n}`] = { value: Math.round(r.bytesPerNodePerS), unit: 'B/s', label: 'per node' }
    rows.push({ what: `simulated ${n} nodes, ${loss * 100} % loss: a crashed host known failed by each live node`, figures: [`detectP50_${n}`, `detectP99_${n}`], note: `${r.detectionAll.length} crashes; ${r.seconds} simulated s` })
    rows.push({ what: `simulated ${n} nodes: false failures with a random host stopped 2 s every 10 s`, figures: [`falsePositives_${n}`] })
    rows.push({ what: `simulated ${n} nodes: a change reaches 99.9 % of nodes`, figures: [`spreadP99_${n}`], note: r.spreadMissed > 0 ? `${r.spreadMissed} changes never reached 99.9 %` : undefined })
    rows.push({ what: `simulated ${n} nodes: traffic`, figures: [`messages_${n}`, `bytes_${n}`], note: r.partition == null ? undefined : `a 10 % partition for 10 s: seen failed after ${r.partition.detectedMs ?? 'never'} ms, merged ${r.partition.mergedMs ?? 'never'} ms after the heal` })
    const cost = costs.get(n)!
    figures[`tableMb_${n}`] = { value: cost.tableBytes == null ? null : Math.round(cost.tableBytes / 2 ** 20 * 100) / 100, unit: 'MB', label: 'per node' }
    figures[`wall_${n}`] = { value: Math.round(r.wallMs / 1000), unit: 's', label: 'wall' }
    figures[`rss_${n}`] = { value: cost.peakRssMb, unit: 'MB', label: 'peak RSS' }
    rows.push({ what: `${n} members: one node's real member table (rows, index, watchers' ring)`, figures: [`tableMb_${n}`], note: cost.tableBytes == null ? undefined : `${Math.round(cost.tableBytes / n)} B a member` })
    rows.push({ what: `simulating ${n} nodes: the simulator's own cost`, figures: [`wall_${n}`, `rss_${n}`], note: `setup ${(r.setupMs / 1000).toFixed(1)} s; ${r.seconds} simulated s` })
  }
  const first = results[0]!
  const last = results.at(-1)!
  figures.messagesGrowth = { value: Math.round(100 * last.messagesPerNodePerS / first.messagesPerNodePerS) / 100, unit: '×', label: `${last.nodes} vs ${first.nodes} nodes` }
  rows.push({ what: 'simulated: messages per node, largest grid vs smallest', figures: ['messagesGrowth'] })
  const targets: TargetSpec[] = [{ figure: 'messagesGrowth', comparator: '<=', bound: 2 }]
  if (results.some(r => r.nodes === 1000)) {
    targets.push({ figure: 'detectP99_1000', comparator: '<=', bound: 5000 }, { figure: 'falsePositives_1000', comparator: '<=', bound: 0 }, { figure: 'spreadP99_1000', comparator: '<=', bound: 3000 })
  }
  return { figures, targets, rows, details: results.map(r => ({ ...r, detection: undefined, spread: undefined, crashes: undefined, detectionSamples: r.detection.length })) }
})
