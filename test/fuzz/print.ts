import { table } from '../bench/lib.ts'
import type { FuzzReport } from './run.ts'

/** The run as text: messages per protocol and topic, each node's rejected counters and RSS, then the checks. */
export function printReport (r: FuzzReport): string {
  const out: string[] = [`fuzz: ${r.seconds} s, seed ${r.seed}, ${r.total} messages\n`]
  out.push(table(['protocol / topic', 'sent', 'outcomes'], r.counts.map(c => [c.label, String(c.total), Object.entries(c.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')])))
  const rejected = Object.entries(r.rejected).flatMap(([node, rows]) => Object.entries(rows).map(([what, n]) => [node, what, String(n)]))
  out.push('\nrejected by the nodes (gridd_rejected_messages_total):\n')
  out.push(table(['node', 'protocol reason', 'count'], rejected))
  out.push('\nRSS:\n')
  out.push(table(['node', 'before MB', 'after MB'], Object.entries(r.rss).map(([node, m]) => [node, String(m.beforeMb), String(m.afterMb)])))
  out.push('\nevent-loop stalls (membership\'s "this node was paused"):\n')
  out.push(table(['node', 'stalls', 'longest ms'], Object.entries(r.stalls).map(([node, s]) => [node, String(s.count), String(s.longestMs)])))
  out.push('\nchecks:\n')
  for (const c of r.checks) out.push(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`)
  out.push(r.ok ? '\nall checks passed\n' : '\nSOME CHECKS FAILED\n')
  return out.join('')
}
