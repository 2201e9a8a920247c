import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir } from '../../src/certs/files.ts'
import { startNode } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { FAST } from './helpers/grid-fixture.ts'
import { cleanup } from './helpers/cleanup.ts'
import { freePort } from './helpers/ports.ts'

// a newcomer's second node on one machine, started from the same `--certs certs` (so the same `node`
// key) with `--peer` the first: the seed answers, under this node's own key, and libp2p refuses
describe('a node whose seed runs under its own key', () => {
  let dir: string
  const started: GridProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-seed-own-key-'))
    await initCertsDir(join(dir, 'certs'))
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.all(started.map(async p => await p.stop('SIGKILL'))), async () => await rm(dir, { recursive: true, force: true }))
  })

  it('logs an error saying so and how to give it a certificate of its own, not "seed not reachable yet"', async () => {
    const certs = join(dir, 'certs')
    const a = await startNode(['--certs', certs, ...FAST])
    started.push(a)
    const b = await startNode(['--certs', certs, ...FAST, '--peer', a.address])
    started.push(b)
    const line = await b.firstLine(l => /seed/.test(l.msg), 15_000)
    expect(line.level, b.output()).toBe(50)
    expect(line.msg).toMatch(/seed runs under this node's own key/)
    expect(line.msg).toMatch(/grid certs issue <name> --role member,agent/)
    expect(line.seed).toMatch(new RegExp(`/tcp/${a.port}`))
  }, 40_000)

  it('a seed given as a node\'s HTTP port (its --metrics): the warning says the seed is not a grid node\'s --port, not "not reachable yet"', async () => {
    const metricsPort = await freePort()
    const a = await startNode(['--dev', ...FAST, '--metrics', String(metricsPort)])
    started.push(a)
    await a.firstLine(l => l.msg === 'metrics listening')
    const b = await startNode(['--dev', ...FAST, '--peer', `127.0.0.1:${metricsPort}`])
    started.push(b)
    const line = await b.firstLine(l => /seed/.test(l.msg), 15_000)
    expect(line.level, b.output()).toBe(40)
    expect(line.msg, JSON.stringify(line.err)).toMatch(/^seed (answers, but not as a grid node: is --peer its --port\?|closed the connection before the TLS handshake completed: is --peer a grid node's --port\?)/)
    expect(line.msg).toMatch(/--metrics/)
  }, 40_000)
})
