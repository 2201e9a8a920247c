import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { StatusJson } from './helpers/grid-fixture.ts'
import { GridProcess, eventually, runGrid, withoutGridVariables } from './helpers/grid-process.ts'
import { freePort } from './helpers/ports.ts'
import { readCaPair } from '../../src/certs/files.ts'
import { exportKey, generateKeys, signCertificate } from '../../src/certs/create.ts'

const HELLO = fileURLToPath(new URL('../../examples/addon/hello-addon.ts', import.meta.url))

/**
 * Real nodes configured by the environment alone (no flags): what each GRID_* variable sets shows in the
 * node's log, its status as others see it, and what it serves. The mapping of every variable to its flag,
 * including those only timing would show (GRID_HEARTBEAT_MS, GRID_SUSPECT_AFTER_MS, ...), is checked in
 * test/unit/cli/environment.test.ts; GRID_DATA_DIR in agents-shipping.test.ts.
 */
describe('grid node and grid status configured by GRID_* variables only', () => {
  let grid: GridFixture
  let a: GridProcess
  let b: GridProcess
  let bPort: number
  let metricsPort: number
  const client = (variables: Record<string, string>) => ({ replaceEnv: { ...withoutGridVariables(), GRID_CERTS: grid.dir, ...variables } })

  /** Starts `grid node` with no flags at all, registered for cleanup before it is ready. */
  async function envNode (variables: Record<string, string>): Promise<GridProcess> {
    const node = new GridProcess([], { ...withoutGridVariables(), ...variables })
    grid.nodes.push(node)
    return await node.ready()
  }

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    const pem = async (file: string): Promise<string> => await readFile(join(grid.dir, file), 'utf8')
    // A: TLS from GRID_TLS_* as PEM text
    a = await envNode({ GRID_TLS_CA: await pem('ca.crt'), GRID_TLS_CERT: await pem('n1.crt'), GRID_TLS_KEY: await pem('n1.key'), GRID_HOST: '127.0.0.1', GRID_PORT: '0', GRID_HEARTBEAT_MS: '200' })
    bPort = await freePort()
    metricsPort = await freePort()
    b = await envNode({
      GRID_CERTS: grid.dir,
      GRID_CERT_NAME: 'n2',
      GRID_HOST: '127.0.0.1',
      GRID_PORT: String(bPort),
      GRID_PEERS: `${a.address},127.0.0.1:1`,
      GRID_HEARTBEAT_MS: '200',
      GRID_LOG_LEVEL: 'debug',
      GRID_AGENT: 'true',
      GRID_WORKERS: '3',
      GRID_CPU: '2',
      GRID_MEMORY: '1024',
      GRID_WEIGHT: '2.5',
      GRID_STRATEGY: 'vertical',
      GRID_DASHBOARD: '0',
      GRID_DASHBOARD_HOST: '127.0.0.1',
      GRID_METRICS: String(metricsPort),
      GRID_METRICS_HOST: '127.0.0.1',
      GRID_ADDONS: `${HELLO}:{"greeting":"hej"}`,
      GRID_CHANNEL_VALUE_BYTES: '100'
    })
  })

  afterAll(async () => { await grid?.close() })

  it('TLS from GRID_TLS_* (PEM text) or GRID_CERTS + GRID_CERT_NAME; host and port from GRID_HOST / GRID_PORT', async () => {
    expect((await a.firstLine(l => l.msg === 'TLS material loaded')).source).toBe('env')
    expect((await b.firstLine(l => l.msg === 'TLS material loaded')).source).toBe('certs-dir')
    expect(b.address).toBe(`127.0.0.1:${bPort}`)
    // n2's key: the peer id the fixture's n2 certificate gives
    const status = await runGrid(['status', '--json'], client({ GRID_PEER: b.address }))
    expect(status.code, status.stderr).toBe(0)
    expect((JSON.parse(status.stdout) as StatusJson).self.id).toBe(b.peerId)
  })

  it('GRID_PEERS joins (comma-separated, a dead entry does no harm); GRID_PEER and GRID_CERTS serve grid status', async () => {
    const seen = await eventually(async () => {
      const res = await runGrid(['status', '--json', '--timeout', '5000'], client({ GRID_PEER: a.address }))
      const report = res.code === 0 ? JSON.parse(res.stdout) as StatusJson : undefined
      return report?.members.find(m => m.id === b.peerId && m.state === 'alive')
    })
    // GRID_AGENT, GRID_WORKERS, GRID_CPU, GRID_MEMORY, GRID_WEIGHT, GRID_STRATEGY as the grid sees them
    expect(seen).toMatchObject({ role: 'agent', capacity: { cpu: 2, memoryMb: 1024 }, load: { maxWorkers: 3 }, weight: 2.5, strategy: 'vertical' })
  })

  it('GRID_LOG_LEVEL=debug logs debug lines (A, at the default info, logs none)', async () => {
    await b.firstLine(l => l.level === 20)
    expect(a.lines.some(l => l.level === 20)).toBe(false)
  })

  it('GRID_DASHBOARD + GRID_DASHBOARD_HOST and GRID_METRICS + GRID_METRICS_HOST serve there', async () => {
    const url = String((await b.firstLine(l => l.msg === 'dashboard listening')).url)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect((await fetch(url)).status).toBe(200)
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toMatch(/^gridd_load\{measure="max_workers"\} 3$/m)
  })

  it('GRID_ADDONS loads an add-on with its JSON options', async () => {
    await b.firstLine(l => l.msg === 'hello add-on serving')
    const since = b.mark()
    const late = await grid.start('n3', ['--peer', a.address])
    // the hello add-on greets every member that joins, with the greeting from its options
    await b.waitFor(l => l.msg === 'hej, new member' && l.member === late.peerId, 15_000, since)
  })

  it('GRID_CHANNEL_VALUE_BYTES=100 is the limit the node enforces', async () => {
    const small = await runGrid(['channel', 'set', 'limits', 'k', 'x'.repeat(50)], client({ GRID_PEER: b.address }))
    expect(small.code, small.stderr).toBe(0)
    const big = await runGrid(['channel', 'set', 'limits', 'k', 'x'.repeat(200)], client({ GRID_PEER: b.address }))
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(/limit is 100/)
  })
  it('GRID_TLS_CLIENT_CERT without the member role (same key as GRID_TLS_CERT): grid node exits 2 naming the outbound certificate, before it would "join" a seed that refuses it sync', async () => {
    const ca = await readCaPair(grid.dir)
    const keys = await generateKeys()
    const key = await exportKey(keys.privateKey)
    const member = await signCertificate(ca, keys.publicKey, { name: 'two-certs', roles: ['member'] })
    const clientOnly = await signCertificate(ca, keys.publicKey, { name: 'two-certs', roles: ['client'] })
    const res = await runGrid(['node'], {
      replaceEnv: { ...withoutGridVariables(), GRID_TLS_CA: ca.cert, GRID_TLS_CERT: member, GRID_TLS_KEY: key, GRID_TLS_CLIENT_CERT: clientOnly, GRID_TLS_CLIENT_KEY: key, GRID_HOST: '127.0.0.1', GRID_PORT: '0', GRID_PEER: a.address },
      timeoutMs: 15_000
    })
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).toMatch(/outbound certificate \(tls\.outbound, GRID_TLS_CLIENT_CERT\) \(two-certs\) has roles client; to join a grid as a node it needs the member role/)
  })
})
