/**
 * The memory of idle `grid node` processes, measured so that one figure says whether a node grew.
 *
 * One process read once was bimodal (77 or 83 MB on the same commit): whether V8 happened to start
 * TurboFan during startup decides whether ~5 MB of the node binary (the compiler's code) is paged
 * in, file-backed RSS that says nothing of what gridd holds. So: several nodes, several readings of
 * each after a settle period, medians; RSS split into file-backed (the binary and libraries paged
 * in) and anonymous (V8's heap, malloc, stacks); and, read last since it disturbs the process, each
 * node's JS heap after a full GC, through the inspector a SIGUSR1 opens (the nodes start with
 * --inspect-port=0, which opens nothing until then).
 */
import { once } from 'node:events'
import { GridProcess } from '../integration/helpers/grid-process.ts'
import { gridCommand, procMemory, sleep } from './lib.ts'

export interface IdleMemory {
  vmRssMb: number
  rssAnonMb: number
  rssFileMb: number
  /** After a full GC (null if the inspector could not be reached). */
  heapUsedMb: number | null
  heapTotalMb: number | null
  externalMb: number | null
}

export interface IdleNodesOptions {
  /** Certificate names in `certsDir`, one node each. */
  names: string[]
  certsDir: string
  /** Where each node's data dir goes (`<dataRoot>/<name>`). */
  dataRoot: string
  settleS: number
  /** Readings of each node, 1 s apart, after the settle period. */
  samples: number
}

/** Memory of fresh `grid node` processes run from `entry`, idle in one-node grids: the median node and every node. */
export async function idleNodesMemory (entry: string, options: IdleNodesOptions): Promise<{ median: IdleMemory, nodes: IdleMemory[] }> {
  const nodes = options.names.map(name => {
    const args = ['node', '--certs', options.certsDir, '--name', name, '--host', '127.0.0.1', '--port', '0', '--data-dir', `${options.dataRoot}/${name}`]
    const [execPath, ...rest] = gridCommand(entry, args)
    return new GridProcess([], {}, undefined, [execPath!, '--inspect-port=0', ...rest])
  })
  try {
    await Promise.all(nodes.map(async n => { await n.ready() }))
    await sleep(options.settleS * 1000)
    const readings: Array<Array<{ vmRssMb: number, rssAnonMb: number, rssFileMb: number }>> = nodes.map(() => [])
    for (let s = 0; s < options.samples; s++) {
      if (s > 0) await sleep(1000)
      for (const [i, n] of nodes.entries()) {
        const m = await procMemory(n.proc.pid)
        if (m == null) throw new Error(`idle node ${options.names[i]} is gone: ${n.output()}`)
        readings[i]!.push(m)
      }
    }
    const measured: IdleMemory[] = []
    for (const [i, n] of nodes.entries()) {
      const r = readings[i]!
      measured.push({
        vmRssMb: median(r.map(x => x.vmRssMb)),
        rssAnonMb: median(r.map(x => x.rssAnonMb)),
        rssFileMb: median(r.map(x => x.rssFileMb)),
        ...await heapAfterGc(n)
      })
    }
    const of = (key: keyof IdleMemory): number | null => {
      const values = measured.map(m => m[key]).filter((x): x is number => x != null)
      return values.length === 0 ? null : median(values)
    }
    return {
      median: { vmRssMb: of('vmRssMb')!, rssAnonMb: of('rssAnonMb')!, rssFileMb: of('rssFileMb')!, heapUsedMb: of('heapUsedMb'), heapTotalMb: of('heapTotalMb'), externalMb: of('externalMb') },
      nodes: measured
    }
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop('SIGKILL') }))
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) * 5) / 10
}

type Heap = Pick<IdleMemory, 'heapUsedMb' | 'heapTotalMb' | 'externalMb'>

/** process.memoryUsage() of the node after a full GC, through the inspector SIGUSR1 opens; nulls if that fails. */
async function heapAfterGc (node: GridProcess): Promise<Heap> {
  const none = { heapUsedMb: null, heapTotalMb: null, externalMb: null }
  const stderr = node.proc.stderr!
  let text = ''
  const url = new Promise<string>(resolve => {
    const onData = (chunk: string): void => {
      text += chunk
      const found = /Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1]
      if (found != null) { stderr.off('data', onData); resolve(found) }
    }
    stderr.on('data', onData)
  })
  node.proc.kill('SIGUSR1')
  const found = await Promise.race([url, sleep(5000).then(() => null)])
  if (found == null) return none
  const ws = new WebSocket(found)
  try {
    await Promise.race([once(ws, 'open'), sleep(5000).then(() => { throw new Error('inspector did not open') })])
    let id = 0
    const waiting = new Map<number, (msg: { result?: unknown, error?: unknown }) => void>()
    ws.addEventListener('message', event => {
      const msg = JSON.parse(String(event.data)) as { id?: number, result?: unknown, error?: unknown }
      if (msg.id != null) waiting.get(msg.id)?.(msg)
    })
    const call = async (method: string, params: object = {}): Promise<unknown> => {
      const mine = ++id
      const answer = new Promise<{ result?: unknown, error?: unknown }>(resolve => { waiting.set(mine, resolve) })
      ws.send(JSON.stringify({ id: mine, method, params }))
      const msg: { result?: unknown, error?: unknown } = await Promise.race([answer, sleep(10_000).then(() => ({ error: `${method} unanswered` }))])
      if (msg.error != null) throw new Error(JSON.stringify(msg.error))
      return msg.result
    }
    await call('HeapProfiler.collectGarbage')
    const evaluated = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }) as { result: { value: string } }
    const usage = JSON.parse(evaluated.result.value) as NodeJS.MemoryUsage
    const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10
    return { heapUsedMb: mb(usage.heapUsed), heapTotalMb: mb(usage.heapTotal), externalMb: mb(usage.external) }
  } catch {
    return none
  } finally {
    ws.close()
  }
}
