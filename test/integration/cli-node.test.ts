import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initCertsDir } from '../../src/certs/files.ts'
import { certificateHash, formatToken, newTokenSecret } from '../../src/join/token.ts'
import { startNode, runGrid, withoutGridVariables } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { FAST } from './helpers/grid-fixture.ts'
import { cleanup } from './helpers/cleanup.ts'

const SLOW_STOP = fileURLToPath(new URL('../fixtures/addons/slow-stop.mjs', import.meta.url))

describe('grid node: bad input exits 2 with one line naming it; signals stop it', () => {
  let dir: string
  let certs: string
  const started: GridProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-cli-node-'))
    certs = join(dir, 'certs')
    await initCertsDir(certs)
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.all(started.map(async p => await p.stop('SIGKILL'))), async () => await rm(dir, { recursive: true, force: true }))
  })

  // (--cpu 1.5 and --weight 2e6 are covered with the config validation tests)
  const cases: Array<[string, string[], RegExp]> = [
    ['a port out of range', ['--port', '70000'], /--port.*70000/],
    ['a port that is not a number', ['--port', 'abc'], /--port.*abc/],
    ['a host that is not an IP address', ['--host', 'not-an-ip'], /\bhost\b.*not-an-ip/],
    ['a peer that is no address', ['--peer', 'garbage'], /\bpeers?\b.*garbage/],
    ['a peer with a bad port', ['--peer', '127.0.0.1:99999'], /\bpeers?\b.*99999/],
    ['an unknown strategy', ['--strategy', 'diagonal'], /--strategy.*diagonal/],
    ['a weight that is not a number', ['--weight', 'heavy'], /--weight.*heavy/],
    ['zero workers', ['--agent', '--workers', '0'], /--workers.*'0'/],
    ['an unknown flag', ['--bogus'], /unknown option '--bogus'/],
    ['a certificate name with no files', ['--name', 'nope'], /nope\.crt/],
    // an agent's flags on a node that runs no workers: dropped without a word before
    ['--workers without --agent', ['--workers', '2'], /--workers: needs --agent/],
    ['--worker-user without --agent', ['--worker-user', 'nobody'], /--worker-user: needs --agent/],
    ['an --api-* flag without --api', ['--api-tls'], /api-tls: needs --api/],
    // loaded before the node starts, as --task's modules are: it never joins the grid only to leave at once
    ['an --addon module that does not exist', ['--addon', '/nonexistent/addon.ts'], /--addon: cannot load .*nonexistent/],
    ['an --addon module that is no add-on', ['--addon', fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))], /--addon: .*no default export made with defineAddon/],
    ['--addon options that are not JSON', ['--addon', `${SLOW_STOP}:{bad`], /--addon: the options .* are not valid JSON/],
    // Node's SyntaxError names neither file nor line: where it is, in the add-on or a file it imports
    ['an --addon module with a syntax error', ['--addon', fileURLToPath(new URL('../fixtures/addons/broken-syntax.mjs', import.meta.url))], /--addon: cannot load .*broken-syntax\.mjs": .* \(at \/.*\/fixtures\/addons\/broken-syntax\.mjs:4:\d+\)$/m],
    ['an --addon module importing a file with a syntax error', ['--addon', fileURLToPath(new URL('../fixtures/addons/imports-broken.mjs', import.meta.url))], /--addon: cannot load .*imports-broken\.mjs": .* \(at \/.*\/fixtures\/addons\/broken-helper\.mjs:\d+:\d+\)$/m]
  ]
  for (const [what, args, names] of cases) {
    it(`${what} (${args.join(' ')})`, async () => {
      const res = await runGrid(['node', '--certs', certs, '--host', '127.0.0.1', '--port', '0', ...args], { timeoutMs: 20_000 })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
      expect(res.stderr).toMatch(names)
      expect(res.stdout).not.toMatch(/grid node listening/)
    })
  }

  // join flags: bad input too (exit 2, ERR_JOIN's exit 1 is the issuer's refusal), refused before the node starts or a token is spent
  it('join and issuer flags: --join without --peer, --dev with --join or --ca-key, a --ca-key of another CA (exit 2, one line, never listening)', async () => {
    const other = join(dir, 'other-ca')
    await initCertsDir(other)
    const token = formatToken({ id: '0123456789abcdef', secret: newTokenSecret(), caHash: certificateHash(await readFile(join(certs, 'ca.crt'), 'utf8')) })
    const joinCases: Array<[string, string[], RegExp]> = [
      ['--join without --peer', ['--join', token, '--data-dir', join(dir, 'joined-no-peer')], /--join: needs --peer/],
      ['--dev with --join', ['--dev', '--join', token, '--peer', '127.0.0.1:1'], /--join: not with --dev/],
      ['--dev with --ca-key', ['--dev', '--ca-key', join(certs, 'ca', 'ca.key')], /--ca-key: needs the node's own certificate/],
      ['a --ca-key of another CA', ['--ca-key', join(other, 'ca', 'ca.key')], /--ca-key \S*other-ca\/ca\/ca\.key is not the key of this node's grid CA/]
    ]
    const results = await Promise.all(joinCases.map(async ([, args]) => await runGrid(['node', '--certs', certs, '--host', '127.0.0.1', '--port', '0', ...args], { timeoutMs: 20_000 })))
    for (const [i, [what, , names]] of joinCases.entries()) {
      const res = results[i]!
      expect(res.code, `${what}: ${res.stderr}`).toBe(2)
      expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
      expect(res.stderr, what).toMatch(names)
      expect(res.stdout, what).not.toMatch(/grid node listening/)
    }
  })

  // the node has started when its add-ons refuse their options: still bad input, not a failure at run time
  const addonCases: Array<[string, (dir: string) => string[], RegExp]> = [
    ['an --api-jwt-secret-file that does not exist', d => ['--api', '0', '--api-jwt-secret-file', join(d, 'nope.secret')], /api-jwt-secret-file: cannot read .*nope\.secret/],
    ['an --api-jwt-public-key-file that holds no key', () => ['--api', '0', '--api-jwt-public-key-file', fileURLToPath(import.meta.url)], /api-jwt-public-key-file: .*cli-node\.test\.ts holds no public key/],
    ['an --api-hook naming a task not registered', d => ['--api', '0', '--api-hook', `h=resize:${join(d, 'nope.secret')}`], /api-hook: hook h runs task resize, which is not registered/]
  ]
  for (const [what, args, names] of addonCases) {
    it(`${what}: exit 2, one line naming the flag`, async () => {
      const res = await runGrid(['node', '--certs', certs, '--host', '127.0.0.1', '--port', '0', ...args(dir)], { timeoutMs: 20_000 })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
      expect(res.stderr).toMatch(names)
    })
  }

  it('a port already in use (the same node started twice): exit 2, one line naming the port, not libp2p\'s advice', async () => {
    const taken = createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    try {
      const port = (taken.address() as AddressInfo).port
      const res = await runGrid(['node', '--certs', certs, '--host', '127.0.0.1', '--port', String(port)], { timeoutMs: 20_000 })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
      expect(res.stderr).toMatch(new RegExp(`port: 127\\.0\\.0\\.1:${port} is already in use.*--port`))
      expect(res.stderr).not.toMatch(/faultTolerance/)
    } finally {
      taken.close()
    }
  })

  it('an HTTP port already in use (--metrics, --dashboard, --health, --api): exit 2, one line naming the flag, not a bare EADDRINUSE and exit 1', async () => {
    const taken = createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    try {
      const port = String((taken.address() as AddressInfo).port)
      const results = await Promise.all(['metrics', 'dashboard', 'health', 'api'].map(async flag =>
        [flag, await runGrid(['node', '--certs', certs, '--host', '127.0.0.1', '--port', '0', `--${flag}`, port], { timeoutMs: 20_000 })] as const))
      for (const [flag, res] of results) {
        expect(res.code, res.stderr).toBe(2)
        expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
        expect(res.stderr).toContain(`${flag} port: 127.0.0.1:${port} is already in use: another process listens there; stop it or pick another port (--${flag})`)
      }
    } finally {
      taken.close()
    }
  })

  it('no certificates anywhere: exit 2, and the line says how to make them', async () => {
    // an empty working directory (no ./certs), and no GRID_* variable from the environment this test runs in
    const empty = join(dir, 'empty')
    await mkdir(empty)
    const res = await runGrid(['node', '--host', '127.0.0.1', '--port', '0'], { cwd: empty, replaceEnv: withoutGridVariables(), timeoutMs: 20_000 })
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toMatch(/no certificates found.*grid certs init/)
  })

  it('SIGTERM stops gracefully: exit 0 after the node has stopped', async () => {
    const node = await startNode(['--certs', certs, ...FAST])
    started.push(node)
    const since = node.mark()
    const code = await node.stop('SIGTERM')
    expect(code, node.output()).toBe(0)
    expect(node.lines.slice(since).map(l => l.msg)).toEqual(expect.arrayContaining(['stopping', 'grid node stopped']))
  })

  for (const [first, second] of [['SIGTERM', 'SIGTERM'], ['SIGINT', 'SIGTERM']] as const) {
    it(`a second signal exits at once while a graceful stop is still running (${first}, then ${second})`, async () => {
      const node = await startNode(['--certs', certs, ...FAST, '--addon', SLOW_STOP])
      started.push(node)
      await node.firstLine(l => l.msg === 'slow-stop add-on started')
      const exited = once(node.proc, 'exit') as Promise<[number | null, string | null]>
      const since = node.mark()
      node.proc.kill(first)
      // the graceful stop is now waiting on the add-on, which holds it for 60 s
      await node.waitFor(l => l.msg === 'slow-stop add-on stopping: holding the node for 60 s', 10_000, since)
      const sentAt = Date.now()
      node.proc.kill(second)
      const [code] = await exited
      expect(code).toBe(1)
      // "at once": the process is gone long before the 60 s the add-on would have held it (bound generous for load)
      expect(Date.now() - sentAt).toBeLessThan(5000)
      expect(node.lines.slice(since).some(l => l.msg === 'grid node stopped')).toBe(false)
    })
  }
})
