import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GRID_BIN, startNode, runGrid, eventually } from './helpers/grid-process.ts'
import { canUnshare } from './helpers/namespaced-agent.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { FAST } from './helpers/grid-fixture.ts'
import type { StatusJson } from './helpers/grid-fixture.ts'
import { cleanup } from './helpers/cleanup.ts'

const DAY_MS = 24 * 60 * 60 * 1000

/** README's "A real grid on several machines", end to end: `grid certs init/issue`, then nodes started from those files. */
describe('grid certs init / issue, then a grid from those certificates', () => {
  let cwd: string
  const started: GridProcess[] = []
  const grid = async (...args: string[]) => await runGrid(args, { cwd })
  const cert = async (name: string): Promise<X509Certificate> => new X509Certificate(await readFile(join(cwd, 'certs', `${name}.crt`)))

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'gridd-certs-cli-'))
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.all(started.map(async p => await p.stop('SIGKILL'))), async () => await rm(cwd, { recursive: true, force: true }))
  })

  it('init makes a CA, a node and a client certificate (keys 0600); issue adds one more, signed by that CA', async () => {
    const init = await grid('certs', 'init', '--dir', 'certs', '--days', '30')
    expect(init.code, init.stderr).toBe(0)
    const files = ['ca.crt', 'ca/ca.key', 'node.crt', 'node.key', 'client.crt', 'client.key', 'admin.crt', 'admin.key']
    for (const file of files) expect(init.stdout).toContain(`wrote ${join(cwd, 'certs', file)}`)
    const issue = await grid('certs', 'issue', 'machine-b', '--dir', 'certs')
    expect(issue.code, issue.stderr).toBe(0)
    expect(issue.stdout).toContain('start a node with --certs certs --name machine-b')
    expect((await readdir(join(cwd, 'certs'), { recursive: true })).sort()).toEqual([...files, 'ca', 'machine-b.crt', 'machine-b.key'].sort())
    for (const key of ['ca/ca.key', 'node.key', 'client.key', 'admin.key', 'machine-b.key']) expect((await stat(join(cwd, 'certs', key))).mode & 0o777, key).toBe(0o600)

    const ca = await cert('ca')
    expect(ca.ca).toBe(true)
    const roles = { node: ['member', 'agent'], client: ['client'], admin: ['admin'], 'machine-b': ['member'] }
    for (const [name, days] of [['node', 30], ['client', 30], ['admin', 30], ['machine-b', 825]] as const) {
      const c = await cert(name)
      expect(c.verify(ca.publicKey), `${name} is signed by the CA`).toBe(true)
      expect(c.checkIssued(ca)).toBe(true)
      expect(c.subject).toBe(`CN=${name}`)
      expect(c.subjectAltName).toBe([`DNS:${name}`, ...roles[name].map(r => `URI:urn:gridd:role:${r}`)].join(', '))
      expect(c.publicKey.asymmetricKeyType).toBe('ed25519')
      expect(c.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])
      // --days on init sets the node and client certificates; issue's default is 825 days
      expect(Math.abs(Date.parse(c.validTo) - Date.now() - days * DAY_MS)).toBeLessThan(DAY_MS)
    }
  })

  it('refuses to overwrite without --force, refuses the name "ca", and issue without a CA says to run init (exit 2 each)', async () => {
    const again = await grid('certs', 'init', '--dir', 'refusals')
    expect(again.code, again.stderr).toBe(0)
    const before = await readFile(join(cwd, 'refusals', 'ca.crt'), 'utf8')
    const overwrite = await grid('certs', 'init', '--dir', 'refusals')
    expect(overwrite.code).toBe(2)
    expect(overwrite.stderr).toMatch(/already exists/)
    expect(await readFile(join(cwd, 'refusals', 'ca.crt'), 'utf8')).toBe(before)
    expect((await grid('certs', 'issue', 'node', '--dir', 'refusals')).code).toBe(2)
    const forced = await grid('certs', 'issue', 'node', '--dir', 'refusals', '--force')
    expect(forced.code, forced.stderr).toBe(0)
    const named = await grid('certs', 'issue', 'ca', '--dir', 'refusals')
    expect(named.code).toBe(2)
    expect(named.stderr).toMatch(/"ca" is the CA's own file name/)
    const noCa = await grid('certs', 'issue', 'x', '--dir', 'nowhere')
    expect(noCa.code).toBe(2)
    expect(noCa.stderr).toMatch(/run `grid certs init --dir \S*nowhere`/)
  })

  it('revoke (and issue) refuse a CA key group or others may read: exit 2, one line with the chmod, no crl.pem written', async () => {
    expect((await grid('certs', 'init', '--dir', 'loose')).code).toBe(0)
    await chmod(join(cwd, 'loose', 'ca', 'ca.key'), 0o640)
    for (const args of [['revoke', 'client'], ['issue', 'x']]) {
      const res = await grid('certs', ...args, '--dir', 'loose')
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
      expect(res.stderr).toMatch(/permissions 0640 for the private key \S*loose\/ca\/ca\.key are too open.*chmod 600/)
    }
    expect(await readdir(join(cwd, 'loose'))).not.toContain('crl.pem')
  })

  it('init into a path that cannot be a directory (a file in it): exit 2, one line naming --dir, no stack', async () => {
    await writeFile(join(cwd, 'a-file'), 'not a directory')
    const res = await grid('certs', 'init', '--dir', 'a-file/x')
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
    expect(res.stderr).toContain(`grid: dir: cannot create ${join(cwd, 'a-file', 'x', 'ca')}: part of its path is a file, not a directory; pick another --dir`)
  })

  // a disk that fails is no bad input (as for --data-dir): exit 2 would tell the user to fix a flag that is right
  it.skipIf(!canUnshare)('init on a read-only filesystem: exit 1 naming the directory and the system error, no stack', async () => {
    const mountPoint = await mkdtemp(join(cwd, 'mnt-'))
    const dir = join(mountPoint, 'certs')
    const script = `mount -t tmpfs -o ro,size=64k tmpfs "${mountPoint}" && exec "$0" "$@"`
    const res = await new Promise<{ code: number, stderr: string }>(resolve => {
      execFile('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, GRID_BIN, 'certs', 'init', '--dir', dir], { timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, stderr })
      })
    })
    expect(res.code, res.stderr).toBe(1)
    expect(res.stderr).toContain(`grid: cannot create the certificates directory ${dir}: EROFS`)
    expect(res.stderr).not.toMatch(/^\s+at /m)
  })

  it('a node started from the issued certificate joins the first one; grid status (client certificate) sees both', async () => {
    if ((await readdir(cwd)).includes('certs') === false) {
      expect((await grid('certs', 'init', '--dir', 'certs')).code).toBe(0)
      expect((await grid('certs', 'issue', 'machine-b', '--dir', 'certs')).code).toBe(0)
    }
    const a = await startNode(['--certs', 'certs', ...FAST], undefined, cwd)
    started.push(a)
    const b = await startNode(['--certs', 'certs', '--name', 'machine-b', '--peer', a.address, ...FAST], undefined, cwd)
    started.push(b)
    for (const [node, other] of [[a, b], [b, a]] as const) {
      const status = await eventually(async () => {
        const res = await grid('status', '--peer', node.address, '--certs', 'certs', '--json', '--timeout', '5000')
        const report = res.code === 0 ? JSON.parse(res.stdout) as StatusJson : undefined
        return report?.members.some(m => m.id === other.peerId && m.state === 'alive') === true ? report : undefined
      })
      expect(status.self.id).toBe(node.peerId)
      // the CLI came in with the client certificate: never a member
      expect(status.members.map(m => m.id)).toEqual([other.peerId])
    }
  })
})
