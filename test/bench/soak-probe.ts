/**
 * The soak bench's probe, loaded into each `grid node` it starts with
 * `--addon test/bench/soak-probe.ts`: `GET /memory` on 127.0.0.1 answers the
 * process's memory after a full collection, so the bench reads what the node
 * keeps, not garbage not yet collected (the metrics add-on has no process
 * metrics). A plain add-on object: importing src/ here would load a second
 * copy of it beside the bundle.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

interface ProbeContext { log: { info: (fields: object, msg: string) => void } }

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

export interface MemoryReading { rssMb: number, heapUsedMb: number, codeMb: number, heapTotalMb: number, externalMb: number, arrayBuffersMb: number, nativeContexts: number }

const mb = (bytes: number): number => Math.round(bytes / 1024 / 10.24) / 100

/** After a full collection; `codeMb` (the code spaces: bytecode and compiled code, part of the heap used) grows as V8 compiles more of the program. */
export function readMemory (): MemoryReading {
  gc()
  const m = process.memoryUsage()
  const code = getHeapSpaceStatistics().filter(s => s.space_name.startsWith('code')).reduce((sum, s) => sum + s.space_used_size, 0)
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), codeMb: mb(code), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers), nativeContexts: getHeapStatistics().number_of_native_contexts }
}

export default {
  name: 'soak-probe',
  async start (ctx: ProbeContext) {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/memory') { res.writeHead(404).end(); return }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(readMemory()))
    })
    await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(0, '127.0.0.1', resolve) })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/memory`
    ctx.log.info({ url }, 'soak probe listening')
    return { url, stop: async () => { await new Promise(resolve => server.close(resolve)) } }
  }
}
