/**
 * `npm run bench:api`: `POST /v1/tasks?wait=1` of a registered no-op task on a
 * `grid node --agent --api` process (bearer token checked, body validated, the
 * task submitted, run on a pooled worker, its result awaited and serialized),
 * against a bare Fastify route answering `{}` in another process, driven by
 * autocannon in this one with the same connections and duration, in the same
 * run: requests/s of each, their ratio, and p99 latency.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { SignJWT } from 'jose'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { note, startGridNode } from './lib.ts'
import { runBench } from './report.ts'

const NOOP = fileURLToPath(new URL('../fixtures/tasks/noop.mjs', import.meta.url))

interface Load { rps: number, p99: number, p50: number, non2xx: number, errors: number }

async function load (url: string, headers: Record<string, string>, connections: number, seconds: number): Promise<Load> {
  const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ task: 'noop', input: null }), connections, duration: seconds })
  return { rps: Math.round(result.requests.average), p99: result.latency.p99, p50: result.latency.p50, non2xx: result.non2xx, errors: result.errors + result.timeouts }
}

await runBench('api', ['--connections', '--seconds'], async (args, defer) => {
  const connections = args.number('--connections', 16)
  const seconds = args.number('--seconds', args.quick ? 4 : 10)
  const dir = await mkdtemp(join(tmpdir(), 'gridd-bench-api-'))
  defer(async () => { await rm(dir, { recursive: true, force: true }) })
  await initCertsDir(dir)
  await issueIntoDir(dir, 'api', { roles: ['member', 'agent'] })
  const secret = randomBytes(32).toString('hex')
  await writeFile(join(dir, 'jwt.secret'), secret, { mode: 0o600 })

  const node = await startGridNode(['--certs', dir, '--name', 'api', '--host', '127.0.0.1', '--port', '0', '--agent', '--workers', '2', '--cpu', '2', '--memory', '1024',
    '--api', '0', '--api-jwt-secret-file', join(dir, 'jwt.secret'), '--api-rate-limit', '1000000000', '--task', `noop=${NOOP}`, '--log-level', 'info'])
  defer(async () => { await node.stop() })
  const api = String((await node.firstLine(l => l.msg === 'HTTP API listening')).url)
  const token = await new SignJWT({ scope: 'tasks:submit' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h').sign(new TextEncoder().encode(secret))
  const auth = { authorization: `Bearer ${token}` }

  const bare = spawn(process.execPath, [fileURLToPath(new URL('./bare-fastify.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] })
  defer(() => { bare.kill('SIGKILL') })
  const [line] = await once(bare.stdout!, 'data') as [Buffer]
  const bareUrl = line.toString().trim()

  // warm: the task's worker pool is up and both servers' code is compiled before the clock
  note('warming up')
  await load(`${api}/v1/tasks?wait=1`, auth, connections, 2)
  await load(bareUrl, {}, connections, 1)
  note(`API: ${connections} connections for ${seconds} s`)
  const apiLoad = await load(`${api}/v1/tasks?wait=1`, auth, connections, seconds)
  note(`bare Fastify: ${connections} connections for ${seconds} s`)
  const bareLoad = await load(bareUrl, {}, connections, seconds)
  note(`API ${apiLoad.rps} req/s p99 ${apiLoad.p99} ms; bare ${bareLoad.rps} req/s p99 ${bareLoad.p99} ms`)

  const ratio = bareLoad.rps === 0 ? null : Math.round((apiLoad.rps / bareLoad.rps) * 1000) / 1000
  return {
    figures: {
      apiRps: { value: apiLoad.rps, unit: 'req/s', label: 'API' },
      apiP99: { value: apiLoad.p99, unit: 'ms', label: 'API p99' },
      apiP50: { value: apiLoad.p50, unit: 'ms', label: 'API p50' },
      apiFailures: { value: apiLoad.non2xx + apiLoad.errors, unit: '', label: 'failed requests' },
      bareRps: { value: bareLoad.rps, unit: 'req/s', label: 'bare Fastify' },
      bareP99: { value: bareLoad.p99, unit: 'ms', label: 'bare p99' },
      ratio: { value: ratio, unit: '×', label: 'API / bare' }
    },
    targets: [{ figure: 'apiFailures', comparator: '<=', bound: 0 }],
    rows: [{
      what: `HTTP API: POST /v1/tasks?wait=1 of a registered no-op task (token, validation, a pooled worker, the result) vs a bare Fastify route returning {} (${connections} connections, ${seconds} s each, autocannon)`,
      figures: ['apiRps', 'apiP99', 'bareRps', 'bareP99', 'ratio', 'apiFailures'],
      note: 'the task runs in a worker process of the node\'s own agent: its round trip is most of the gap'
    }],
    details: { api: apiLoad, bare: bareLoad, connections, seconds }
  }
})
