/**
 * The owner of the netns chaos test, run as its own process inside a host's
 * namespace (so faults can cut it off like any other host): a `GridNode`
 * member that runs a two-stage pipeline and a session of tasks, and reports
 * on stdout as JSON lines the test's `GridProcess` parses — its pino log
 * (warn and above) and `chaos:*` lines: items sunk, tasks settled, the run's
 * end, and a status every 500 ms (members, worker handles, room).
 *
 * argv[2]: the JSON of `ChaosOwnerConfig`. SIGTERM stops the node and exits.
 */
import { pino } from 'pino'
import { fileURLToPath } from 'node:url'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'

export interface ChaosOwnerConfig {
  certs: string
  name: string
  host: string
  port: number
  peers: string[]
  dataDir: string
  agents: number
  items: number
  itemsPerSecond: number
  tasks: number
  taskBurst: number
  taskBurstEveryMs: number
  maxRetries: number
  scaleDownAfterMs: number
}

const config = JSON.parse(process.argv[2]!) as ChaosOwnerConfig
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/chaos/${name}`, import.meta.url))
const emit = (msg: string, fields: Record<string, unknown> = {}): void => { process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), msg, ...fields }) + '\n') }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const logger = pino({ level: 'warn' })
const node = await GridNode.start({
  host: config.host,
  port: config.port,
  tls: await loadCerts(config.certs, config.name),
  peers: config.peers,
  heartbeatMs: 200,
  dataDir: config.dataDir,
  logger,
  tasks: { scaleDownAfterMs: config.scaleDownAfterMs }
})
for (const type of ['member:suspect', 'member:fail', 'member:rejoin'] as const) node.on(type, member => { emit(type, { member: member.id }) })
process.on('SIGTERM', () => { void node.stop().finally(() => process.exit(0)) })
emit('grid node listening', { peerId: node.peerId, addresses: [`/ip4/${config.host}/tcp/${config.port}`] })

const status = (): void => {
  emit('chaos:status', {
    members: node.members().map(m => ({ id: m.id, state: m.state, role: m.role, workers: m.load.workers, slotsUsed: m.load.slotsUsed })),
    handles: node.workers.list().length,
    room: node.workers.capacityFor({ cpu: 1 })
  })
}
setInterval(status, 500).unref()
while (node.members().filter(m => m.role === 'agent' && m.state === 'alive').length < config.agents) await sleep(100)
emit('chaos:ready')

/** Yields 1..count at about `perSecond`. */
async function * paced (count: number, perSecond: number): AsyncGenerator<number> {
  const started = performance.now()
  for (let n = 1; n <= count; n++) {
    const wait = started + (n / perSecond) * 1000 - performance.now()
    if (wait > 0) await sleep(wait)
    yield n
  }
}

// sunk items go out in batches (one line per item would be 5,000 lines)
let sunkBatch: Array<[number, number]> = []
const flushSunk = (): void => {
  if (sunkBatch.length > 0) emit('chaos:sunk', { items: sunkBatch })
  sunkBatch = []
}
setInterval(flushSunk, 200).unref()

const run = node.pipeline('netns-chaos', {
  source: paced(config.items, config.itemsPerSecond),
  stages: [
    { name: 'chaos-triple', module: fixture('triple.mjs'), minWorkers: 2, maxWorkers: 6 },
    { name: 'chaos-tag', module: fixture('tag.mjs'), minWorkers: 2, maxWorkers: 6 }
  ],
  sink: (value) => {
    const { n, v } = value as { n: number, v: number }
    sunkBatch.push([n, v])
  }
})
run.on('item:failed', f => { emit('chaos:item-failed', { item: f.item, attempts: f.attempts, error: f.error.code ?? f.error.name }) })
run.on('worker:lost', w => { emit('chaos:worker-lost', { agent: w.agentId }) })
run.on('stage:unplaceable', u => { emit('chaos:unplaceable', { stage: u.stage, reason: u.reason }) })
run.done.then(summary => {
  flushSunk()
  emit('chaos:run-done', { summary: { ...summary, stages: undefined } })
}, (err: unknown) => {
  flushSunk()
  emit('chaos:run-failed', { error: String(err) })
})

const session = node.session({ name: 'netns-chaos', maxRetries: config.maxRetries })
const settled: Array<Promise<void>> = []
for (let n = 1; n <= config.tasks; n++) {
  const handle = session.submit(fixture('task.mjs'), n)
  settled.push(handle.result().then(result => {
    emit('chaos:task', { n, result, attempts: handle.info().attempts })
  }, (err: unknown) => {
    const e = err as { code?: string, message?: string }
    emit('chaos:task', { n, error: `${e.code ?? ''} ${e.message ?? String(err)}`, attempts: handle.info().attempts })
  }))
  if (n % config.taskBurst === 0) await sleep(config.taskBurstEveryMs)
}
session.close()
await Promise.all(settled)
emit('chaos:tasks-done', { counts: session.counts() })
