import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { runGrid } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

// Two failures that reach the node are not "could not reach": each says what to do instead
describe('the CLI explains a node it reached but could not use', () => {
  let grid: GridFixture
  let node: GridProcess

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    node = await grid.start('n1')
  })

  afterAll(async () => { await cleanup(async () => await grid?.close()) })

  it('a command run with the certificate of the very node it dials (libp2p takes no connection from its own key): exit 2, naming the certificate and the way out', async () => {
    const result = await runGrid(['channel', 'set', 'config', 'replicas', '3', '--peer', node.address, '--certs', grid.dir, '--name', 'n1'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('runs under the same key as the certificate this command used ("n1")')
    expect(result.stderr).toContain('--name <cert>')
    expect(result.stderr).not.toContain('could not reach')
  })

  it('grid pipeline, whose --name is the deployment\'s, points at --cert-name', async () => {
    const result = await runGrid(['pipeline', 'list', '--peer', node.address, '--certs', grid.dir, '--cert-name', 'n1'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('(--cert-name <cert>;')
  })

  it('grid pipeline stop with --name (the certificate flag elsewhere): exit 2 pointing at the argument and --cert-name, nothing sent', async () => {
    const result = await runGrid(['pipeline', 'stop', 'orders', '--name', 'cli', '--peer', node.address, '--certs', grid.dir])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/--name: is the deployment's name, for deploy only: stop takes the name as its argument .*--cert-name/)
  })

  it('grid pipeline stop with the default client certificate: exit 2 saying it needs a member\'s, --cert-name', async () => {
    const result = await runGrid(['pipeline', 'stop', 'orders', '--peer', node.address, '--certs', grid.dir])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/--cert-name: the node refused: .*may not use .*; stop needs a member \(or admin\) certificate, and this command used the client one: pass --cert-name <name>/)
  })

  it('grid schedule to a node without the HTTP API: exit 2, saying schedules need --api', async () => {
    const result = await runGrid(['schedule', 'list', '--peer', node.address, '--certs', grid.dir])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('schedules are served by nodes started with --api')
    expect(result.stderr).not.toContain('could not reach')
  })
})
