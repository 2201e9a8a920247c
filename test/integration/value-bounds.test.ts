import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { ConfigError } from '../../src/errors.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'

/** What `grid status --json` says of a member, as far as this test reads it. */
interface Listed {
  id: string
  state: string
  role: string
  capacity: { cpu: number, memoryMb: number }
}

/**
 * One rule for every value (src/checks/values.ts): what a node accepts
 * locally its peers accept from it. Fractional CPU slots are valid on the
 * wire; a weight beyond the wire's ±1e6 is refused at the API and the CLI.
 */
describe('value bounds: the CLI, the API and the wire agree', () => {
  let grid: GridFixture
  let seed: GridProcess
  let agent: GridProcess
  let member: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    seed = await grid.start('n1')
    agent = await grid.start('n2', ['--agent', '--cpu', '1.5', '--workers', '2', '--memory', '1024', '--peer', seed.address])
    member = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), peers: [seed.address], heartbeatMs: 200 })
  })

  afterAll(async () => {
    await member?.stop()
    await grid?.close()
  })

  it('grid node --agent --cpu 1.5 joins and its peers list it with 1.5 CPU slots', async () => {
    // before the rule, peers dropped every heartbeat and sync entry of this agent (the wire wanted an integer)
    const listed = await eventually(async () => {
      const status = await grid.status(seed)
      const entry = (status.members as unknown as Listed[]).find(m => m.id === agent.peerId)
      return entry?.state === 'alive' ? entry : undefined
    })
    expect(listed).toMatchObject({ role: 'agent', capacity: { cpu: 1.5, memoryMb: 1024 } })
    // and a member that joined through the seed hears the agent's own heartbeats too
    const seen = await eventually(() => member.members().find(m => m.id === agent.peerId && m.state === 'alive'))
    expect(seen).toMatchObject({ role: 'agent', capacity: { cpu: 1.5 } })
  })

  it.each([
    ['--weight', '2e6', 'from -1000000 to 1000000'],
    ['--weight', '-1000001', 'from -1000000 to 1000000'],
    ['--cpu', '0', 'above 0'],
    ['--cpu', '4097', 'at most 4096'],
    ['--workers', '2.5', 'an integer from 1 to 4096'],
    ['--memory', 'lots', 'number of MB']
  ])('grid node %s %s exits 2 naming the flag and the rule', async (flag, value, rule) => {
    const res = await runGrid(['node', '--dev', '--host', '127.0.0.1', '--port', '0', '--agent', flag, value])
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).toContain(flag)
    expect(res.stderr).toContain(rule)
  })

  it('grid weight 2e6 exits 2 naming weight before it dials anything', async () => {
    const res = await runGrid(['weight', '2e6', '--node', agent.address, '--certs', grid.dir])
    expect(res.code, res.stderr).toBe(2)
    expect(res.stderr).toMatch(/weight: must be a number from -1000000 to 1000000, got 2000000/)
    // the agent kept its weight
    const listed = await eventually(() => member.members().find(m => m.id === agent.peerId))
    expect(listed.weight).toBe(1)
  })

  it('node.setWeight(2e6) and setStrategy("diagonal") throw ConfigError naming the option; the weight stays', () => {
    expect(() => { member.setWeight(2e6) }).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'ERR_CONFIG', option: 'weight' }))
    expect(() => { member.setWeight(Number.NaN) }).toThrow(ConfigError)
    expect(() => { member.setStrategy('diagonal' as never) }).toThrow(expect.objectContaining({ option: 'strategy' }))
    expect(member.self().weight).toBe(1)
    member.setWeight(1e6)
    expect(member.self().weight).toBe(1e6)
    member.setWeight(1)
  })

  it('GridNode.start({ agent: { weight: 2e6 } }) rejects with ConfigError naming agent.weight', async () => {
    const err = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { weight: 2e6 } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ option: 'agent.weight' })
    expect((err as Error).message).toContain('from -1000000 to 1000000')
  })

  it('a stage name longer than the spawn protocol allows fails node.pipeline() at once, naming the stage', () => {
    const init = { source: [1], stages: [{ name: 'x'.repeat(129), module: './stage.ts' }], sink: () => {} }
    expect(() => member.pipeline('long-name', init)).toThrow(expect.objectContaining({ name: 'ConfigError', option: 'stages[0].name' }))
  })
})
