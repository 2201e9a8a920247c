/**
 * What grew between two V8 heap snapshots (bench:soak's `--snapshot-dir` writes them), and what holds it:
 *
 *   node test/bench/heap-compare.ts before.heapsnapshot after.heapsnapshot [--top 40]
 *     object counts and self sizes by constructor (node type and name), largest growth in count first
 *   node test/bench/heap-compare.ts after.heapsnapshot --retainers FinishedTask
 *     the commonest paths from a GC root to the objects of that constructor (weak edges skipped)
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { table } from './lib.ts'

interface Meta { node_fields: string[], node_types: [string[], ...unknown[]], edge_fields: string[], edge_types: [string[], ...unknown[]] }
interface Snapshot { snapshot: { meta: Meta }, nodes: number[], edges: number[], strings: string[] }
interface Group { count: number, bytes: number }

function load (file: string): Snapshot {
  return JSON.parse(readFileSync(file, 'utf8')) as Snapshot
}

/** Count and self size per "type name" (strings and code grouped by type only: their names are their contents). */
export function groups (snap: Snapshot): Map<string, Group> {
  const { node_fields: fields, node_types: [types] } = snap.snapshot.meta
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map(f => fields.indexOf(f))
  const out = new Map<string, Group>()
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt!]!]!
    const named = type === 'object' || type === 'closure' || type === 'native'
    const key = named ? `${type} ${snap.strings[snap.nodes[i + nameAt!]!]!.slice(0, 80)}` : type
    const g = out.get(key) ?? { count: 0, bytes: 0 }
    g.count++
    g.bytes += snap.nodes[i + sizeAt!]!
    out.set(key, g)
  }
  return out
}

/** For each object named `constructor`, the shortest strong path from the root (node 0), counted by its last `depth` steps. */
export function retainerPaths (snap: Snapshot, constructor: string, depth = 8): Map<string, number> {
  const m = snap.snapshot.meta
  const N = m.node_fields.length
  const E = m.edge_fields.length
  const [typeAt, nameAt, edgeCountAt] = ['type', 'name', 'edge_count'].map(f => m.node_fields.indexOf(f))
  const [edgeTypeAt, edgeNameAt, toAt] = ['type', 'name_or_index', 'to_node'].map(f => m.edge_fields.indexOf(f))
  const count = snap.nodes.length / N
  const label = (i: number): string => `${m.node_types[0][snap.nodes[i * N + typeAt!]!]} ${snap.strings[snap.nodes[i * N + nameAt!]!]!.slice(0, 60)}`
  const retainers: Array<Array<[number, string]>> = Array.from({ length: count }, () => [])
  for (let i = 0, e = 0; i < count; i++) {
    const end = e + snap.nodes[i * N + edgeCountAt!]! * E
    for (; e < end; e += E) {
      const type = m.edge_types[0][snap.edges[e + edgeTypeAt!]!]!
      if (type === 'weak') continue
      const name = snap.edges[e + edgeNameAt!]!
      retainers[snap.edges[e + toAt!]! / N]!.push([i, type === 'element' || type === 'hidden' ? `[${name}]` : `${snap.strings[name]}`])
    }
  }
  const paths = new Map<string, number>()
  for (let target = 0; target < count; target++) {
    if (label(target) !== `object ${constructor}`) continue
    // breadth first from the object up to the root: the shortest path holding it
    const via = new Map<number, [number, string]>([[target, [-1, '']]])
    let frontier = [target]
    while (frontier.length > 0 && !via.has(0)) {
      const next: number[] = []
      for (const x of frontier) {
        for (const [holder, edge] of retainers[x]!) {
          if (via.has(holder)) continue
          via.set(holder, [x, edge])
          next.push(holder)
        }
      }
      frontier = next
    }
    const steps: string[] = []
    for (let x = via.has(0) ? 0 : -1; x >= 0 && x !== target;) {
      const [down, edge] = via.get(x)!
      steps.push(`${label(x)} .${edge}`)
      x = down
    }
    // element and internal indices differ from object to object: the path is the same
    const key = steps.length === 0 ? '(unreachable)' : steps.slice(-depth).join(' → ').replace(/\.(\[\d+\]|\d+)(?= |$)/g, '.[i]')
    paths.set(key, (paths.get(key) ?? 0) + 1)
  }
  return paths
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' }, retainers: { type: 'string' } } })
  if (values.retainers != null && positionals.length === 1) {
    const paths = retainerPaths(load(positionals[0]!), values.retainers)
    for (const [path, n] of [...paths].sort((p, q) => q[1] - p[1]).slice(0, Number(values.top))) process.stdout.write(`${n}× ${path}\n`)
  } else if (positionals.length === 2) {
    const [before, after] = positionals.map(f => groups(load(f))) as [Map<string, Group>, Map<string, Group>]
    const total = (g: Map<string, Group>): number => [...g.values()].reduce((s, x) => s + x.bytes, 0)
    const diff = [...new Set([...before.keys(), ...after.keys()])].map(k => {
      const x = before.get(k) ?? { count: 0, bytes: 0 }
      const y = after.get(k) ?? { count: 0, bytes: 0 }
      return [k, y.count - x.count, y.bytes - x.bytes, y.count] as const
    }).sort((p, q) => q[1] - p[1]).slice(0, Number(values.top))
    process.stdout.write(`self size: ${(total(before) / 2 ** 20).toFixed(2)} MB → ${(total(after) / 2 ** 20).toFixed(2)} MB\n`)
    process.stdout.write(table(['constructor', 'Δ count', 'Δ bytes', 'count after'], diff.map(d => d.map(String))))
  } else {
    process.stderr.write('usage: heap-compare.ts before.heapsnapshot after.heapsnapshot [--top N] | heap-compare.ts file.heapsnapshot --retainers Constructor\n')
    process.exitCode = 2
  }
}
