import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { eventually, runGrid, startNode } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { freePort } from './helpers/ports.ts'
import { cleanup } from './helpers/cleanup.ts'
import { rolesOfCertificate } from '../../src/trust/roles.ts'

/** A `grid node` on 127.0.0.1 (a later --port wins over startNode's 0: the joiner dials the issuer's join port). */
const node = async (args: string[]): Promise<GridProcess> => await startNode(args)

async function status (url: string): Promise<{ code: number, body: Record<string, unknown> }> {
  const res = await fetch(url)
  return { code: res.status, body: await res.json() as Record<string, unknown> }
}

describe('grid node --join <token>: a certificate from a node holding the CA key', () => {
  let dir: string
  let issuer: GridProcess
  let port: number
  let joinPort: number
  let healthPort: number
  const started: GridProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-join-it-'))
    expect((await runGrid(['certs', 'init', '--dir', join(dir, 'certs')])).code).toBe(0)
    port = await freePort()
    joinPort = await freePort()
    healthPort = await freePort()
    issuer = await node(['--port', String(port), '--certs', join(dir, 'certs'), '--ca-key', join(dir, 'certs', 'ca', 'ca.key'), '--join-port', String(joinPort), '--health', String(healthPort), '--heartbeat-ms', '300'])
    await issuer.firstLine(l => l.msg === 'join service listening: nodes may join with a token')
    await issuer.firstLine(l => l.msg === 'health endpoints listening (/healthz, /readyz)')
  })

  afterAll(async () => {
    await cleanup(...started.map(p => async () => await p.stop()), async () => await issuer?.stop(), async () => await rm(dir, { recursive: true, force: true }))
  })

  const token = async (args: string[]): Promise<string> => {
    const made = await runGrid(['certs', 'token', 'create', '--dir', join(dir, 'certs'), ...args])
    expect(made.code, made.stderr).toBe(0)
    return made.stdout.trim()
  }
  const joiner = (tokenText: string, dataDir: string, extra: string[] = []): string[] =>
    ['--port', '0', '--join', tokenText, '--peer', `127.0.0.1:${port}`, '--join-port', String(joinPort), '--data-dir', dataDir, '--heartbeat-ms', '300', ...extra]

  it('the issuer alone by design is ready; /healthz answers', async () => {
    // the CA-key warning (logged before the join service starts) is for nodes that should not hold it: not the issuer
    expect(issuer.lines.some(l => String(l.msg).startsWith('a CA private key is readable by this node'))).toBe(false)
    expect(await status(`http://127.0.0.1:${healthPort}/healthz`)).toMatchObject({ code: 200 })
    expect(await status(`http://127.0.0.1:${healthPort}/readyz`)).toMatchObject({ code: 200, body: { reason: 'alone by design (no peer to join)' } })
  })

  it('joins with a token: certificate with the token\'s roles, key 0600 in the data dir; ready once it sees the issuer; a restart reuses it', async () => {
    // member is added to every token: each node joins membership
    const text = await token(['--role', 'agent', '--ttl', '1h', '--uses', '1'])
    expect(text).toMatch(/^gridd1\.[0-9a-f]{16}\./)
    const dataDir = join(dir, 'joiner-1')
    const health = await freePort()
    const first = await node(joiner(text, dataDir, ['--health', String(health), '--name', 'joiner-1']))
    started.push(first)
    await first.firstLine(l => l.msg === 'health endpoints listening (/healthz, /readyz)')
    const cert = new X509Certificate(await readFile(join(dataDir, 'certs', 'node.crt'), 'utf8'))
    expect([...rolesOfCertificate(cert)].sort()).toEqual(['agent', 'member'])
    expect(cert.subject).toBe('CN=joiner-1')
    expect((await stat(join(dataDir, 'certs', 'node.key'))).mode & 0o777).toBe(0o600)
    await issuer.waitFor(l => l.msg === 'issued a certificate to a joining node', 5000, 0)
    // the joined node is a member: the issuer sees it alive, and it becomes ready
    await eventually(async () => (await status(`http://127.0.0.1:${health}/readyz`)).code === 200 ? true : undefined, 20_000)
    const peerId = first.peerId
    await first.stop()
    // the token is spent now: only the certificate in the data dir can bring it back
    const again = await node(joiner(text, dataDir))
    started.push(again)
    expect(again.peerId).toBe(peerId)
    await again.firstLine(l => l.msg === 'joined earlier: reusing the certificate in the data dir')
    await again.stop()
  })

  it('refuses a spent, an expired and a revoked token (exit 1, the reason on stderr)', async () => {
    const once = await token(['--uses', '1'])
    const used = await node(joiner(once, join(dir, 'joiner-2')))
    started.push(used)
    await used.stop()
    const spent = await runGrid(['node', '--host', '127.0.0.1', ...joiner(once, join(dir, 'joiner-3'))])
    expect(spent.code).toBe(1)
    expect(spent.stderr).toMatch(/spent/)
    const expiring = await token(['--ttl', '1s'])
    await new Promise(resolve => setTimeout(resolve, 1100))
    const expired = await runGrid(['node', '--host', '127.0.0.1', ...joiner(expiring, join(dir, 'joiner-4'))])
    expect(expired.stderr).toMatch(/expired/)
    const revoking = await token(['--uses', '5'])
    const id = revoking.split('.')[1]!
    expect((await runGrid(['certs', 'token', 'revoke', id, '--dir', join(dir, 'certs')])).stdout).toMatch(`revoked token ${id}`)
    const revoked = await runGrid(['node', '--host', '127.0.0.1', ...joiner(revoking, join(dir, 'joiner-5'))])
    expect(revoked.code).toBe(1)
    expect(revoked.stderr).toMatch(/revoked/)
    // a token that does not even parse is bad input: exit 2, naming the flag
    const garbled = await runGrid(['node', '--host', '127.0.0.1', '--join', 'gridd1.nope', '--peer', '127.0.0.1:1', '--data-dir', join(dir, 'joiner-6')])
    expect(garbled.code).toBe(2)
    expect(garbled.stderr).toMatch(/--join: not a join token/)
    const listed = await runGrid(['certs', 'token', 'list', '--dir', join(dir, 'certs')])
    expect(listed.stdout).toMatch(new RegExp(`${id} .*revoked`))
    expect(listed.stdout).not.toMatch(revoking.split('.')[2]!)
    expect(issuer.lines.filter(l => l.msg === 'join refused').length).toBeGreaterThanOrEqual(3)
  })

  it('a data dir others can write to is refused before the join: exit 2, the token not spent, no certificate written there', async () => {
    const text = await token(['--uses', '1'])
    const open = join(dir, 'joiner-open')
    await mkdir(open)
    await chmod(open, 0o777)
    const res = await runGrid(['node', '--host', '127.0.0.1', '--agent', ...joiner(text, open)])
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).toMatch(/writable by everyone/)
    expect(await readdir(open)).toEqual([])
    const listed = await runGrid(['certs', 'token', 'list', '--dir', join(dir, 'certs')])
    expect(listed.stdout).toMatch(new RegExp(`${text.split('.')[1]!} .*used 0/1 .*usable`))
  })

  it('a node with a peer it cannot reach is alive but not ready', async () => {
    const health = await freePort()
    const lonely = await node(['--port', '0', '--certs', join(dir, 'certs'), '--peer', `127.0.0.1:${await freePort()}`, '--health', String(health)])
    started.push(lonely)
    await lonely.firstLine(l => l.msg === 'health endpoints listening (/healthz, /readyz)')
    expect(await status(`http://127.0.0.1:${health}/healthz`)).toMatchObject({ code: 200 })
    expect(await status(`http://127.0.0.1:${health}/readyz`)).toMatchObject({ code: 503, body: { ready: false, reason: 'no member seen yet' } })
  })
})
