/**
 * `node test/bench/tasks-profile.ts [--durable] [--seconds N] [--out DIR]`: CPU
 * profiles of bench:tasks' 1,000-in-flight path, on all three of its processes:
 * the owner (this process, through node:inspector, only while waves run), the
 * agent (`grid node --agent` under `--cpu-prof`, written when it stops) and the
 * worker (a no-op task module that profiles itself from setup to teardown).
 * Prints each profile's self time by function and by part of the code, and
 * leaves the .cpuprofile files in DIR (open them in Chrome DevTools).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { startNode } from '../integration/helpers/grid-process.ts'
import { journalCaughtUp, journalRows, watchJournal } from './journal-watch.ts'
import { note, sleep } from './lib.ts'
import { childPids, cpuSeconds } from './proc-stats.ts'

/** CPU seconds of this process's threads (by name: the main one, the journal's writer, the rest), the agent and its workers. */
async function cpuTimes (pids: { agent: number, workers: number[] }): Promise<Map<string, number>> {
  const times = new Map<string, number>()
  const add = (name: string, s: number | null): void => { times.set(name, (times.get(name) ?? 0) + (s ?? 0)) }
  for (const tid of readdirSync('/proc/self/task')) {
    const comm = (await readFile(`/proc/self/task/${tid}/comm`, 'utf8')).trim()
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    add(Number(tid) === process.pid ? 'owner main' : /jour/.test(comm) ? 'owner journal' : 'owner other', (Number(fields[11]) + Number(fields[12])) / 100)
  }
  add('agent', await cpuSeconds(pids.agent))
  for (const pid of pids.workers) add('workers', await cpuSeconds(pid))
  // write system calls (sockets, pipes: each also wakes a peer), per thousand tasks below
  const writes = async (pid: number | 'self'): Promise<number> => Number(/^syscw: (\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8').catch(() => ''))?.[1] ?? 0) / 1e3
  add('writes: owner', await writes('self'))
  add('writes: agent', await writes(pids.agent))
  for (const pid of pids.workers) add('writes: workers', await writes(pid))
  return times
}

const { values } = parseArgs({ options: { durable: { type: 'boolean', default: false }, 'no-profile': { type: 'boolean', default: false }, seconds: { type: 'string', default: '10' }, out: { type: 'string', default: join(tmpdir(), 'gridd-tasks-profile') } } })
const out = resolve(values.out)
mkdirSync(join(out, 'agent'), { recursive: true })
const WORKER_MODULE = values['no-profile'] ? fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url)) : join(out, 'profiled-noop.mjs')
// the bench's no-op, with a profiler from setup to teardown (a worker's environment does not pass NODE_OPTIONS)
if (!values['no-profile']) writeFileSync(WORKER_MODULE, `import { Session } from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'
const session = new Session()
export default {
  async setup () { session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.start') },
  process (item) { return item },
  async teardown () { const { profile } = await session.post('Profiler.stop'); writeFileSync(${JSON.stringify(join(out, 'worker-'))} + process.pid + '.cpuprofile', JSON.stringify(profile)) }
}
`)

// journal rows posted to the writer (inserts and updates), per task below: what the writer thread's CPU follows
watchJournal()

const certs = await mkdtemp(join(tmpdir(), 'gridd-tasks-profile-'))
const data = await mkdtemp(join(tmpdir(), 'gridd-tasks-profile-data-'))
await initCertsDir(certs)
for (const name of ['agent', 'owner']) await issueIntoDir(certs, name, { roles: ['member', 'agent'] })
const profiling = !values['no-profile']
const agent = await startNode(['--certs', certs, '--name', 'agent', '--agent', '--workers', '2', '--cpu', '2'], profiling ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(out, 'agent')}` } : {})
const owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(certs, 'owner'), peers: [agent.address], logger: pino({ level: 'silent' }), dataDir: data, tasks: { minWorkers: 1, maxWorkers: 1, durable: values.durable } })
try {
  while (!owner.members().some(m => m.role === 'agent' && m.state === 'alive')) await sleep(50)
  const wave = Array.from({ length: 1000 }, (_, n) => ({ n }))
  const run = async (): Promise<number> => (await Promise.all(wave.map(async item => await owner.run(WORKER_MODULE, item)))).length
  for (const until = performance.now() + 1000; performance.now() < until;) await run()
  const session = new Session()
  if (profiling) {
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
  }
  const pids = { agent: agent.proc.pid!, workers: await childPids(agent.proc.pid) }
  const before = await cpuTimes(pids)
  const rowsBefore = journalRows()
  const t0 = performance.now()
  let done = 0
  while (performance.now() - t0 < Number(values.seconds) * 1000) done += await run()
  const seconds = (performance.now() - t0) / 1000
  // the journal may trail the tasks (its thread yields to them): its CPU per task counts once it has caught up
  if (values.durable) await journalCaughtUp(5000)
  const after = await cpuTimes(pids)
  if (profiling) {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(join(out, 'owner.cpuprofile'), JSON.stringify(profile))
    session.disconnect()
  }
  const rows = values.durable ? `, ${((journalRows() - rowsBefore) / done).toFixed(2)} journal rows per task (CPU counted once it caught up, ${((performance.now() - t0) / 1000 - seconds).toFixed(1)} s after)` : ''
  note(`${done} tasks in ${seconds.toFixed(1)} s: ${Math.round(done / seconds)} tasks/s, journal ${values.durable ? 'on' : 'off'}${rows}, load ${loadavg()[0]!.toFixed(1)}`)
  // CPU per task, by process (and the owner's threads): what a loaded machine's throughput divides
  note('per task, CPU (µs); write calls per 1000 tasks: ' + [...after].map(([name, s]) => `${name} ${(1e6 * (s - (before.get(name) ?? 0)) / done).toFixed(1)}`).join(', '))
} finally {
  await owner.stop()
  await agent.stop()
  await rm(certs, { recursive: true, force: true })
  await rm(data, { recursive: true, force: true })
}

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** Which part of the code a frame is in (a coarse map of where time goes). */
function part (url: string, name: string): string {
  if (url === '') return name === '(garbage collector)' ? 'gc' : name === '(idle)' || name === '(program)' ? name : `native ${name}`
  for (const [pattern, label] of [[/valibot/, 'valibot'], [/@libp2p|libp2p|@chainsafe|yamux|it-|uint8array|multiformats/, 'libp2p'], [/pino|thread-stream|sonic/, 'logging'], [/sqlite/, 'sqlite'], [/node:internal\/child_process|serialization/, 'ipc'], [/node:/, 'node core']] as const) {
    if (pattern.test(url)) return label
  }
  const src = /\/src\/([^/]+\/[^/]+)$/.exec(url) ?? /\/(dist\/bundle\/[^/]+)$/.exec(url)
  return src?.[1] ?? url.split('/').slice(-2).join('/')
}

/** Self time by function and by part, the top lines of each. */
function summary (file: string, skipIdle = true): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => { self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)) })
  const fns = new Map<string, number>()
  const parts = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    if (skipIdle && functionName === '(idle)') continue
    total += us
    const fn = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    fns.set(fn, (fns.get(fn) ?? 0) + us)
    const p = part(url, functionName)
    parts.set(p, (parts.get(p) ?? 0) + us)
  }
  const top = (m: Map<string, number>, n: number): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${(100 * us / total).toFixed(1).padStart(5)} %  ${k}`).join('\n')
  return `${file}: ${(total / 1e6).toFixed(2)} s busy\n by part:\n${top(parts, 14)}\n by function:\n${top(fns, 25)}\n`
}

const files = !profiling ? [] : [join(out, 'owner.cpuprofile'), ...readdirSync(join(out, 'agent')).map(f => join(out, 'agent', f)), ...readdirSync(out).filter(f => f.startsWith('worker-')).map(f => join(out, f))]
for (const file of files) process.stdout.write(summary(file) + '\n')
