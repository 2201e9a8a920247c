import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { address, addresses, concurrency, cpuCapacity, cpuSlots, MAX_MEMORY_MB, maxWorkers, memoryCapacityMb, memberCount, memoryMb, peerId, positiveNumber, stageName, strategy, weight, workerCount } from '../../../src/checks/values.ts'
import { checkOption, ruleBroken } from '../../../src/checks/check.ts'
import { ConfigError } from '../../../src/errors.ts'
import { resolveAgentConfig } from '../../../src/agent/config.ts'
import { memberEntrySchema } from '../../../src/membership/schema.ts'
import { spawnRequestSchema } from '../../../src/wire/spawn-protocol.ts'
import { controlRequestSchema } from '../../../src/control/control.ts'

const PEER = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'

describe.each<[string, v.GenericSchema, unknown[], unknown[]]>([
  ['cpuSlots', cpuSlots, [0, 0.25, 1.5, 4096], [-0.1, 4096.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null]],
  ['cpuCapacity', cpuCapacity, [0.01, 1.5, 4096], [0, -1, 4097, Number.NaN, '2']],
  ['memoryMb', memoryMb, [0, 256.5, MAX_MEMORY_MB], [-1, MAX_MEMORY_MB + 1, Number.NaN]],
  ['memoryCapacityMb', memoryCapacityMb, [1, 1024, 1536.5, MAX_MEMORY_MB], [0, 0.5, MAX_MEMORY_MB + 1, Number.POSITIVE_INFINITY]],
  ['workerCount', workerCount, [0, 1, 4096], [-1, 1.5, 4097, Number.NaN]],
  ['maxWorkers', maxWorkers, [1, 4096], [0, 2.5, 4097, '4']],
  ['concurrency', concurrency, [1, 10_000], [0, 1.5, 10_001]],
  ['weight', weight, [-1e6, -0.5, 0, 2.5, 1e6], [1e6 + 1, -2e6, 2e6, Number.NaN, Number.POSITIVE_INFINITY, '1']],
  ['strategy', strategy, ['horizontal', 'vertical'], ['Horizontal', '', 'diagonal', 1]],
  ['stageName', stageName, ['a', 'resize-v2', 'x'.repeat(128)], ['', 'x'.repeat(129), 1, null]],
  ['memberCount', memberCount, [1, 4096, 65_536], [0, 2.5, 65_537, Number.NaN, '10']],
  // base58 that is no peer id ('A', 'notapeerxd', a cut-short id) must not pass: a later parse of it would throw
  ['peerId', peerId, [PEER], ['', 'has space', '0OIl', 'x'.repeat(129), 7, 'A', 'notapeerxd', 'not-a-peer-id', PEER.slice(0, 20)]],
  ['address', address, [`/ip4/127.0.0.1/tcp/4100/p2p/${PEER}`, '/ip6/::1/tcp/1', '/dns4/a.example/tcp/1'], ['127.0.0.1:4100', '/nope/1', '/ip4/999.1.1.1/tcp/1', `/dns4/${'a'.repeat(260)}/tcp/1`, 3]],
  ['addresses', addresses, [[], Array(32).fill('/ip4/10.0.0.1/tcp/1')], [Array(33).fill('/ip4/10.0.0.1/tcp/1'), ['x'], 'x']],
  ['positiveNumber', positiveNumber, [1e-9, 5, 1e12], [0, -1, Number.POSITIVE_INFINITY, Number.NaN, '5']]
])('%s', (_name, piece, valid, invalid) => {
  it.each(valid.map(value => [value]))('takes %j', (value) => {
    expect(ruleBroken(piece, value)).toBeUndefined()
  })
  it.each(invalid.map(value => [value]))('refuses %j, saying its rule', (value) => {
    expect(ruleBroken(piece, value)).toMatch(/^must /)
  })
})

describe('oversized ids and addresses are refused without being parsed (found by npm run fuzz)', () => {
  // base58 decoding is quadratic: before the length guard, a 64 KB id in one heartbeat blocked a node's
  // event loop for ~3 s, and a 4 MB one in a member sync for many minutes; 1 s is far above a length check
  it.each([
    ['peerId', peerId, '12D3KooW' + 'x'.repeat(1_000_000)],
    ['address', address, `/dns4/${'a'.repeat(1_000_000)}/tcp/1`],
    ['memberEntrySchema.id', memberEntrySchema.entries.id, 'A'.repeat(1_000_000)]
  ])('%s: a 1 MB string is refused at once', (_name, piece, value) => {
    const started = performance.now()
    expect(ruleBroken(piece as v.GenericSchema, value)).toMatch(/^must /)
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe('checkOption', () => {
  it('returns the value when it passes', () => {
    expect(checkOption('agent.cpu', cpuCapacity, 1.5)).toBe(1.5)
    expect(checkOption('strategy', strategy, 'vertical')).toBe('vertical')
  })

  it('throws ConfigError naming the option, the rule and the value given', () => {
    const err = (() => { try { checkOption('agent.weight', weight, 2e6) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ code: 'ERR_CONFIG', option: 'agent.weight', message: 'agent.weight: must be a number from -1000000 to 1000000, got 2000000' })
    expect(() => checkOption('strategy', strategy, 'diagonal')).toThrow('strategy: must be "horizontal" or "vertical", got "diagonal"')
  })
})

describe('what the API accepts, the wire accepts', () => {
  const entry = (agent: ReturnType<typeof resolveAgentConfig>): unknown => ({
    id: PEER,
    addresses: [`/ip4/127.0.0.1/tcp/4100/p2p/${PEER}`],
    state: 'alive',
    incarnation: 1,
    role: 'agent',
    capacity: { cpu: agent.cpu, memoryMb: agent.memoryMb },
    load: { cpu: 0, memoryFreeMb: 1000, workers: agent.workers, maxWorkers: agent.workers, slotsUsed: 0, memoryUsedMb: 0, stages: { ['s'.repeat(128)]: agent.workers } },
    weight: agent.weight,
    strategy: agent.strategy
  })

  it.each([
    { cpu: 1.5 },
    { cpu: 0.01, memoryMb: 1, workers: 1, weight: -1e6 },
    { cpu: 4096, memoryMb: MAX_MEMORY_MB, workers: 4096, weight: 1e6, strategy: 'vertical' as const },
    { weight: 0 }
  ])('an agent resolved from %j gossips an entry every peer parses', (init) => {
    expect(v.safeParse(memberEntrySchema, entry(resolveAgentConfig(init))).success).toBe(true)
  })

  it('a fractional worker request and a 128-character stage name pass the spawn protocol', () => {
    const request = { op: 'spawn', stage: 'x'.repeat(128), module: { path: '/s.ts', sha256: 'a'.repeat(64) }, resources: { cpu: 0.5, memoryMb: 256.5 } }
    expect(v.safeParse(spawnRequestSchema, request).success).toBe(true)
    expect(v.safeParse(spawnRequestSchema, { ...request, stage: 'x'.repeat(129) }).success).toBe(false)
  })

  it('the control protocol takes the same weights and strategies as setWeight and setStrategy', () => {
    expect(v.safeParse(controlRequestSchema, { op: 'set-weight', weight: 1e6 }).success).toBe(true)
    expect(v.safeParse(controlRequestSchema, { op: 'set-weight', weight: 2e6 }).success).toBe(false)
    expect(v.safeParse(controlRequestSchema, { op: 'set-strategy', strategy: 'diagonal' }).success).toBe(false)
  })
})
