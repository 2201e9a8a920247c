import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import type { ClientLibp2p } from '../../src/transport/libp2p.ts'
import type { GridNode } from '../../src/node.ts'
import { fetchStatus } from '../../src/control/status.ts'
import { requestChannel } from '../../src/channels/client-protocol.ts'
import type { FuzzGrid, FuzzNode } from './grid.ts'

const PLAIN_STAGE = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))
export const CHECK_CHANNEL = 'fuzz-check'

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
}

const target = (n: FuzzNode) => multiaddr(`/ip4/127.0.0.1/tcp/${n.proc.port}/p2p/${n.proc.peerId}`)

async function poll<T> (check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  return undefined
}

/** Every node process still runs; for one that exited, its last error lines (level error and above) and its stderr tail. */
export function processesUp (grid: FuzzGrid): CheckResult {
  const down = grid.nodes.filter(n => n.proc.proc.exitCode !== null || n.proc.proc.signalCode !== null)
  const why = (n: FuzzNode): string => {
    const errors = n.proc.lines.filter(l => l.level >= 50 || l.level === 0).slice(-5).map(l => JSON.stringify(l).slice(0, 1500))
    return `${n.name} exited ${n.proc.proc.exitCode ?? n.proc.proc.signalCode}:\n  ${errors.join('\n  ')}`
  }
  return { name: 'every node process is up (0 crashes)', ok: down.length === 0, detail: down.length === 0 ? `${grid.nodes.length} of ${grid.nodes.length} up` : down.map(why).join('\n') }
}

/** Through the status protocol: every node lists every other node alive (within `timeoutMs`). */
export async function converged (client: ClientLibp2p, grid: FuzzGrid, timeoutMs: number): Promise<CheckResult> {
  const ids = grid.nodes.map(n => n.proc.peerId)
  let last = ''
  const ok = await poll(async () => {
    const views = await Promise.all(grid.nodes.map(async n => ({ n, report: await fetchStatus(client, target(n), { signal: AbortSignal.timeout(5000) }) })))
    const missing = views.flatMap(({ n, report }) => ids.filter(id => id !== n.proc.peerId && !report.members.some(m => m.id === id && m.state === 'alive')).map(id => `${n.name} does not list ${id.slice(-6)} alive`))
    last = missing.join('; ')
    return missing.length === 0 ? true : undefined
  }, timeoutMs)
  return { name: 'the grid converged (every node lists every other alive)', ok: ok === true, detail: ok === true ? `${grid.nodes.length} nodes, each lists the other ${grid.nodes.length - 1} alive` : last }
}

/** The check channel, read on every node: the same entries everywhere, the writes from before and after the fuzzing among them. */
export async function channelsEqual (client: ClientLibp2p, grid: FuzzGrid, expected: Record<string, unknown>, timeoutMs: number): Promise<CheckResult> {
  let last = ''
  const ok = await poll(async () => {
    const views = await Promise.all(grid.nodes.map(async n => new Map(((await requestChannel(client, target(n), { op: 'list', channel: CHECK_CHANNEL }, { signal: AbortSignal.timeout(5000) })).entries ?? []).map(([k, v]) => [k, JSON.stringify(v)]))))
    const first = views[0]!
    const missing = Object.entries(expected).filter(([k, v]) => first.get(k) !== JSON.stringify(v)).map(([k]) => k)
    // per node, the keys whose value differs from the first node's
    const differences = views.slice(1).map((view, i) => {
      const keys = new Set([...first.keys(), ...view.keys()])
      const differ = [...keys].filter(k => first.get(k) !== view.get(k))
      return differ.length === 0 ? '' : `${grid.nodes[i + 1]!.name} differs from ${grid.nodes[0]!.name} on ${differ.map(k => `${k} (${first.get(k)?.slice(0, 40) ?? 'absent'} / ${view.get(k)?.slice(0, 40) ?? 'absent'})`).join(', ')}`
    }).filter(d => d !== '')
    last = [`${first.size} keys`, ...differences, ...(missing.length > 0 ? [`missing on ${grid.nodes[0]!.name}: ${missing.join(', ')}`] : [])].join('; ')
    return differences.length === 0 && missing.length === 0 ? true : undefined
  }, timeoutMs)
  return { name: `channel "${CHECK_CHANNEL}" equal on every node, with the writes from before and after`, ok: ok === true, detail: last }
}

/** A small pipeline (200 items through one stage on the agent) runs to completion with every result right. */
export async function pipelineRuns (owner: GridNode, timeoutMs: number): Promise<CheckResult> {
  const results: number[] = []
  const items = Array.from({ length: 200 }, (_, i) => i)
  const run = owner.pipeline('fuzz-check', { source: items, stages: [{ name: 'double', module: PLAIN_STAGE, minWorkers: 1, maxWorkers: 2 }], sink: (n: number) => { results.push(n) }, signal: AbortSignal.timeout(timeoutMs) })
  try {
    await run.done
  } catch (err) {
    return { name: 'a pipeline runs to completion on the agent', ok: false, detail: `${(err as Error).name}: ${(err as Error).message}; ${results.length} results` }
  }
  const right = results.length === items.length && [...results].sort((a, b) => a - b).every((r, i) => r === i * 2)
  return { name: 'a pipeline runs to completion on the agent', ok: right, detail: `${results.length} of ${items.length} results${right ? ', all right' : ', wrong'}` }
}

/** `gridd_rejected_messages_total` rows of a node's metrics: "protocol reason" -> count. */
export async function rejectedCounts (node: FuzzNode): Promise<Record<string, number>> {
  const text = await (await fetch(node.metricsUrl, { signal: AbortSignal.timeout(5000) })).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^gridd_rejected_messages_total\{protocol="([^"]*)",reason="([^"]*)"\} (\S+)$/gm)) out[`${m[1]} ${m[2]}`] = Number(m[3])
  return out
}
