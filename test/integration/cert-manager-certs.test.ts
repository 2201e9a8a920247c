/**
 * The cert-manager overlay for real, short of a cluster: the Certificates of
 * deploy/k8s/cert-manager/certificates.yaml issued the way cert-manager's CA
 * Issuer issues them (openssl: a CSR signed by the grid CA with the spec's
 * SANs, URIs and usages), laid out as the pods' Secret volumes hold them, the
 * overlay's init-container scripts run on them, and `grid node` processes
 * started with the overlay's GRID_CERTS: they join one grid and its agents
 * run a pipeline. And what each setting of a Certificate is for: without its
 * role URIs, with cert-manager's default key (RSA), or read straight from a
 * Secret volume (group-readable under fsGroup), a node refuses to start.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { issueLikeCertManager } from './helpers/cert-manager-issue.ts'
import type { CertificateSpec } from './helpers/cert-manager-issue.ts'
import { startNode, runGrid, eventually } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'

const OVERLAY = fileURLToPath(new URL('../../deploy/k8s/cert-manager/', import.meta.url))
const STAGE = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))

type Obj = Record<string, any>
const documents = (file: string): Obj[] => parseAllDocuments(readFileSync(join(OVERLAY, file), 'utf8')).map(d => d.toJS() as Obj)
const specOf = (name: string): CertificateSpec => documents('certificates.yaml').find(c => c.metadata.name === name)!.spec as CertificateSpec
const podSpec = (file: string): Obj => documents(file)[0]!.spec.template.spec

/** An init container's `sh -c` script with its mount paths replaced by local directories (one pass, longest first). */
function localScript (script: string, mounts: Record<string, string>): string {
  const targets = Object.keys(mounts).sort((a, b) => b.length - a.length)
  return script.replace(new RegExp(`(?<![\\w.-])(${targets.map(t => t.replace(/[/.]/g, '\\$&')).join('|')})(?![\\w.-])`, 'g'), t => mounts[t]!)
}

/** Runs the init container of `file`'s pod template with `mounts` and `env`. */
function runInit (file: string, mounts: Record<string, string>, env: Record<string, string> = {}): void {
  const init = podSpec(file).initContainers[0]
  for (const dir of Object.values(mounts)) mkdirSync(dir, { recursive: true })
  execFileSync(init.command[0], [...init.command.slice(1), localScript(init.args[0] as string, mounts)], { env: { ...process.env, ...env }, stdio: 'pipe' })
}

/** The overlay's GRID_* settings of the main container, their paths local. */
function overlayEnv (file: string, mounts: Record<string, string>): Record<string, string> {
  return Object.fromEntries((podSpec(file).containers[0].env as Obj[]).map(e => [e.name, localScript(e.value as string, mounts)]))
}

describe('deploy/k8s/cert-manager: certificates as cert-manager\'s CA Issuer makes them, used by real nodes', () => {
  let root: string
  let grid: string
  let ca: { cert: string, key: string }
  const started: GridProcess[] = []
  let owner: GridNode | undefined

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gridd-cert-manager-'))
    grid = join(root, 'grid')
    expect((await runGrid(['certs', 'init', '--dir', grid])).code).toBe(0)
    // the Secret gridd-ca the Issuer reads: the grid CA from `grid certs init`
    ca = { cert: join(grid, 'ca.crt'), key: join(grid, 'ca', 'ca.key') }
  })

  afterAll(async () => {
    await cleanup(async () => await owner?.stop(), ...started.map(p => async () => await p.stop()), () => { rmSync(root, { recursive: true, force: true }) })
  })

  it('the seed and two agents start from the copies the init containers make, join one grid, and the agents run a pipeline\'s workers', async () => {
    const secrets = join(root, 'projected')
    for (const name of ['gridd-seed-0', 'gridd-agent-0', 'gridd-agent-1']) issueLikeCertManager(specOf(name), ca, join(secrets, name))
    // tls.crt as a chain (leaf, then the CA) for one agent: issuers may write it so; the node presents it as given
    appendFileSync(join(secrets, 'gridd-agent-1', 'tls.crt'), readFileSync(ca.cert))
    const openssl = execFileSync('openssl', ['x509', '-in', join(secrets, 'gridd-agent-0', 'tls.crt'), '-noout', '-text'], { encoding: 'utf8' })
    expect(openssl).toMatch(/Signature Algorithm: ED25519/)
    expect(openssl).toMatch(/URI:urn:gridd:role:member, URI:urn:gridd:role:agent/)

    const seedMounts = { '/cert': join(secrets, 'gridd-seed-0'), '/run/gridd/tls': join(root, 'tls-seed') }
    runInit('seed-cert-manager.yaml', seedMounts)
    expect(statSync(join(root, 'tls-seed', 'node.key')).mode & 0o777).toBe(0o600)
    const seed = await startNode(['--heartbeat-ms', '300'], overlayEnv('seed-cert-manager.yaml', seedMounts))
    started.push(seed)
    expect(await seed.firstLine(l => l.msg === 'TLS material loaded')).toMatchObject({ source: 'certs-dir' })

    const agents: GridProcess[] = []
    for (const pod of ['gridd-agent-0', 'gridd-agent-1']) {
      const mounts = { '/certs': secrets, '/run/gridd/tls': join(root, `tls-${pod}`) }
      runInit('agent-cert-manager.yaml', mounts, { POD_NAME: pod })
      expect(statSync(join(root, `tls-${pod}`, `${pod}.key`)).mode & 0o777).toBe(0o600)
      // the base's args as they matter here: --agent, --name=$(POD_NAME), the seed as --peer
      const agent = await startNode(['--agent', '--name', pod, '--peer', seed.address, '--data-dir', join(root, `data-${pod}`), '--heartbeat-ms', '300'], overlayEnv('agent-cert-manager.yaml', mounts))
      started.push(agent)
      agents.push(agent)
    }

    // a member with a certificate of `grid certs init` (the same CA) owns a pipeline: its workers can only run on the two agents
    owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid, 'node'), peers: [seed.address] })
    const agentIds = agents.map(a => a.peerId)
    await eventually(() => agentIds.every(id => owner!.members().some(m => m.id === id && m.state === 'alive' && m.role === 'agent')) ? true : undefined, 30_000)
    const input = Array.from({ length: 200 }, (_, i) => i + 1)
    const out: number[] = []
    const run = owner.pipeline('cert-manager', { source: input, stages: [{ name: 'double', module: STAGE, minWorkers: 2 }], sink: v => { out.push(v as number) }, equalize: false })
    const summary = await run.done
    expect(summary).toMatchObject({ in: 200, out: 200, failed: 0 })
    expect(out.sort((a, b) => a - b)).toEqual(input.map(n => n * 2))
  }, 120_000)

  /** `grid node` with the Secret as issued for `spec` in `dir` (tls.crt, tls.key): its exit and stderr. */
  async function startWith (dir: string): Promise<{ code: number, stderr: string }> {
    return await runGrid(['node', '--certs', dir, '--name', 'tls', '--host', '127.0.0.1', '--port', '0'], { timeoutMs: 20_000 })
  }

  it('a Certificate without the role URIs: the node refuses to start (exit 2) — `uris` carries the grid role', async () => {
    const { uris: _dropped, ...spec } = specOf('gridd-agent-0')
    issueLikeCertManager(spec, ca, join(root, 'no-role'))
    const result = await startWith(join(root, 'no-role'))
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/holds no gridd role/)
  })

  it('cert-manager\'s default key (RSA, no privateKey in the spec): the node refuses to start (exit 2) — the key is the libp2p identity, Ed25519', async () => {
    const { privateKey: _dropped, ...spec } = specOf('gridd-agent-0')
    issueLikeCertManager(spec, ca, join(root, 'rsa'))
    const result = await startWith(join(root, 'rsa'))
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/must be Ed25519/)
  })

  it('the Secret read where it is mounted (key 0440 under fsGroup): refused (exit 2) — hence the init containers\' 0600 copy', async () => {
    const dir = join(root, 'as-mounted')
    issueLikeCertManager(specOf('gridd-agent-0'), ca, dir)
    chmodSync(join(dir, 'tls.key'), 0o440)
    const result = await startWith(dir)
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/permissions 0440 for the private key .* are too open/)
  })
})
