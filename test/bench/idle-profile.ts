/**
 * Where an idle node's CPU goes: N-1 `grid node --dev` processes as bench:scale
 * starts them, plus one more under `--cpu-prof`; once all list all alive and the
 * grid settled, the samples of an idle window are grouped by what they do
 * (self time, mapped through the bundle's source map to the original package or
 * file). Prints a table; the raw profile stays under the --out directory.
 *
 *   node test/bench/idle-profile.ts --n 20 --settle-seconds 20 --window-seconds 30 --out /tmp/prof
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Cluster, GridProcess, SHEBANG_FLAGS, converge, note, sleep } from './lib.ts'
import { GRID_BIN } from '../integration/helpers/grid-process.ts'
import { cpuSeconds } from './proc-stats.ts'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20' },
    'settle-seconds': { type: 'string', default: '20' },
    'window-seconds': { type: 'string', default: '30' },
    out: { type: 'string', default: '/tmp/gridd-idle-profile' },
    analyse: { type: 'string' }
  }
})

/** What a frame is doing, from its original source path or its name; the first rule that matches wins. */
const CATEGORIES: Array<[string, RegExp]> = [
  ['gossipsub signature check', /verifySignature|validateReceivedMessage|\bverify\b|KeyObject|createPublicKey|publicKeyFromProtobuf|unmarshal.*Public|ed25519/i],
  ['gossipsub signing', /\bsign\b|buildRawMessage|signMessage/],
  ['JSON', /JSON|parseJson/],
  ['schema (valibot)', /valibot/],
  ['membership (ours)', /src\/membership\//],
  ['channels (ours)', /src\/channels\//],
  ['mTLS socket (ours)', /src\/transport\/mtls/],
  ['node TLS', /node:_tls|node:tls|TLSWrap|TLSSocket/],
  ['node streams/net', /node:internal\/streams|node:net|node:stream|node:internal\/stream_base/],
  ['timers', /node:internal\/timers|listOnTimeout|processTimers/],
  ['yamux', /yamux/],
  ['multistream/streams (libp2p)', /multistream|it-|byte-stream|uint8arraylist|length-prefixed|@libp2p\/utils/],
  ['gossipsub', /gossipsub|protons|protobuf/],
  ['identify/peer store', /identify|peer-store|peerStore|datastore/],
  ['libp2p other', /libp2p|@multiformats|multiaddr/],
  ['os (load sampling)', /node:os|cpus|loadavg/],
  ['logger', /pino/],
  ['GC', /\(garbage collector\)/],
  ['idle', /\(idle\)|\(program\)/]
]

const maps = new Map<string, SourceMap | null>()
function original (url: string, line: number, column: number): string {
  if (!url.startsWith('file://') || !url.endsWith('.js')) return url
  let map = maps.get(url)
  if (map === undefined) {
    try { map = new SourceMap(JSON.parse(readFileSync(fileURLToPath(url) + '.map', 'utf8'))) } catch { map = null }
    maps.set(url, map)
  }
  const entry = map?.findEntry(line, column) as { originalSource?: string } | undefined
  return entry?.originalSource ?? url
}

function categorise (stack: ProfileNode[]): string {
  // leaf first: the innermost frame that names a category decides
  for (const node of stack) {
    const f = node.callFrame
    const where = original(f.url, f.lineNumber, f.columnNumber)
    const text = `${f.functionName} ${where}`
    for (const [name, re] of CATEGORIES) if (re.test(text)) return name
  }
  return 'other'
}

export function analyse (file: string, fromUs: number, toUs: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stackOf = (id: number): ProfileNode[] => {
    const out: ProfileNode[] = []
    for (let cur: number | undefined = id; cur != null; cur = parent.get(cur)) out.push(byId.get(cur)!)
    return out
  }
  const cat = new Map<string, number>()
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let t = profile.startTime
  let busy = 0
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    // counted, not weighed by the time to the next sample: on a loaded machine the sampler
    // thread runs late, and the gap after a busy sample is mostly time the process waited
    const dt = 1
    t += profile.timeDeltas[i]!
    if (t - profile.startTime < fromUs || t - profile.startTime > toUs) continue
    const stack = stackOf(profile.samples[i]!)
    total += dt
    const c = categorise(stack)
    if (c === 'idle') continue
    busy += dt
    cat.set(c, (cat.get(c) ?? 0) + dt)
    const leaf = stack[0]!.callFrame
    const key = `${leaf.functionName || '(anonymous)'} ${original(leaf.url, leaf.lineNumber, leaf.columnNumber).replace(/.*node_modules\//, '')}`
    self.set(key, (self.get(key) ?? 0) + dt)
    for (const name of new Set(stack.map(s => s.callFrame.functionName).filter(Boolean))) inclusive.set(name, (inclusive.get(name) ?? 0) + dt)
  }
  const pct = (us: number): string => `${(us / Math.max(1, busy) * 100).toFixed(1)} %`
  console.log(`window ${((toUs - fromUs) / 1e6).toFixed(1)} s: ${total} samples, ${busy} busy (${(busy / Math.max(1, total) * 100).toFixed(2)} % of the samples)`)
  console.log('\nby category (self time, share of busy):')
  for (const [k, v] of [...cat].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(v).padStart(7)}  ${k}`)
  console.log('\ntop self:')
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${pct(v).padStart(7)}  ${k}`)
  console.log('\ntop inclusive:')
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(`  ${pct(v).padStart(7)}  ${k}`)
}

async function run (): Promise<void> {
  const n = Number(values.n)
  const out = values.out
  mkdirSync(out, { recursive: true })
  const cluster = new Cluster()
  process.on('exit', () => { cluster.killAllSync() })
  try {
    const nodes: GridProcess[] = []
    for (let i = 0; i < n - 1; i++) {
      const seed = nodes.length === 0 ? [] : [nodes[Math.floor(Math.random() * nodes.length)]!.address]
      nodes.push(await cluster.start(await cluster.freePort(), seed, 60_000))
    }
    const port = await cluster.freePort()
    const args = ['--dev', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'info', '--peer', nodes[0]!.address]
    const spawnedAt = Date.now()
    const profiled = new GridProcess(args, {}, undefined, [process.execPath, ...SHEBANG_FLAGS, '--cpu-prof', '--cpu-prof-dir', out, GRID_BIN, 'node', ...args])
    cluster.started.push(profiled)
    await profiled.waitFor(l => l.msg === 'grid node listening', 60_000, 0)
    nodes.push(profiled)
    note(`converging: ${await converge(nodes, 120_000) ?? 'never'} ms`)
    await sleep(Number(values['settle-seconds']) * 1000)
    const pids = nodes.map(p => p.proc.pid!)
    const cpu0 = await Promise.all(pids.map(cpuSeconds))
    const from = Date.now()
    await sleep(Number(values['window-seconds']) * 1000)
    const to = Date.now()
    const cpu1 = await Promise.all(pids.map(cpuSeconds))
    const perNode = pids.map((_, i) => ((cpu1[i] ?? NaN) - (cpu0[i] ?? NaN)) / ((to - from) / 1000) * 100)
    note(`idle CPU per node (%, /proc): ${perNode.map(x => x.toFixed(1)).join(' ')}; profiled node ${perNode.at(-1)!.toFixed(2)} %`)
    await profiled.stop('SIGTERM')
    // the main thread's profile (thread 0); a worker thread writes its own
    const file = readdirSync(out).filter(f => f.endsWith('.cpuprofile') && f.includes(`.${profiled.proc.pid}.0.`)).map(f => join(out, f))[0]!
    // the profile starts with the process; the window is measured from the spawn
    analyse(file, (from - spawnedAt) * 1000, (to - spawnedAt) * 1000)
  } finally {
    await cluster.close()
  }
}

if (values.analyse != null) {
  const [file, from, to] = values.analyse.split(',')
  analyse(file!, Number(from) * 1e6, Number(to) * 1e6)
} else {
  await run()
}
