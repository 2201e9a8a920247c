import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STOP_TIMEOUT_MS, resolveConfig } from '../../src/config.ts'
import type { GridNodeInit } from '../../src/config.ts'
import { ConfigError } from '../../src/errors.ts'

const TLS = { ca: 'ca-pem', cert: 'cert-pem', key: 'key-pem' }

function configError (init: GridNodeInit): ConfigError {
  try { resolveConfig(init) } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).code).toBe('ERR_CONFIG')
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('resolveConfig', () => {
  it('fills defaults', () => {
    const config = resolveConfig({ dev: true })
    expect(config).toMatchObject({ host: '0.0.0.0', port: 4100, peers: [], dev: true, tls: undefined })
    expect(config.host).toBe(DEFAULT_HOST)
    expect(config.port).toBe(DEFAULT_PORT)
    expect(config.stopTimeoutMs).toBe(DEFAULT_STOP_TIMEOUT_MS)
    expect(config.pingIntervalMs).toBeUndefined()
    expect(config.membership.maxMembers).toBe(4096)
    expect(resolveConfig({ dev: true, maxMembers: 10 }).membership.maxMembers).toBe(10)
  })

  it('keeps given values and parses peers', () => {
    const ma = multiaddr('/ip4/10.0.0.9/tcp/9')
    const config = resolveConfig({ tls: TLS, host: '::', port: 0, peers: ['10.0.0.1:4100', '[::1]:5', ma], stopTimeoutMs: 10, pingIntervalMs: 20 })
    expect(config.host).toBe('::')
    expect(config.port).toBe(0)
    expect(config.dev).toBe(false)
    expect(config.tls).toBe(TLS)
    expect(config.peers.map(p => p.toString())).toEqual(['/ip4/10.0.0.1/tcp/4100', '/ip6/::1/tcp/5', '/ip4/10.0.0.9/tcp/9'])
    expect(config.stopTimeoutMs).toBe(10)
    expect(config.pingIntervalMs).toBe(20)
  })

  it.each([{}, { dev: false }])('requires tls or dev (%o)', (init) => {
    expect(configError(init).option).toBe('tls')
  })

  it.each<[string, GridNodeInit, string]>([
    ['host name', { host: 'localhost' }, 'host'],
    ['empty host', { host: '' }, 'host'],
    ['negative port', { port: -1 }, 'port'],
    ['port too big', { port: 70000 }, 'port'],
    ['fractional port', { port: 1.5 }, 'port'],
    ['NaN port', { port: Number.NaN }, 'port'],
    ['bad second peer', { peers: ['10.0.0.1:4100', 'nope'] }, 'peers[1]'],
    ['bad first peer', { peers: ['/udp/1'] }, 'peers[0]'],
    ['zero stopTimeoutMs', { stopTimeoutMs: 0 }, 'stopTimeoutMs'],
    ['negative stopTimeoutMs', { stopTimeoutMs: -5 }, 'stopTimeoutMs'],
    ['infinite stopTimeoutMs', { stopTimeoutMs: Number.POSITIVE_INFINITY }, 'stopTimeoutMs'],
    ['zero pingIntervalMs', { pingIntervalMs: 0 }, 'pingIntervalMs'],
    ['zero heartbeatMs', { heartbeatMs: 0 }, 'heartbeatMs'],
    ['NaN suspectAfterMs', { suspectAfterMs: Number.NaN }, 'suspectAfterMs'],
    ['zero maxMembers', { maxMembers: 0 }, 'maxMembers'],
    ['fractional maxMembers', { maxMembers: 2.5 }, 'maxMembers'],
    ['maxMembers beyond the sync bound', { maxMembers: 100_000 }, 'maxMembers'],
    ['negative channel value size', { channels: { maxValueBytes: -1 } }, 'channels.maxValueBytes'],
    ['weight beyond the wire bound', { agent: { weight: 2e6 } }, 'agent.weight'],
    ['weight below the wire bound', { agent: { weight: -1e6 - 1 } }, 'agent.weight'],
    ['infinite weight', { agent: { weight: Number.POSITIVE_INFINITY } }, 'agent.weight'],
    ['unknown strategy', { agent: { strategy: 'diagonal' as never } }, 'agent.strategy'],
    ['zero CPU slots', { agent: { cpu: 0 } }, 'agent.cpu'],
    ['more CPU slots than the wire takes', { agent: { cpu: 5000 } }, 'agent.cpu'],
    ['fractional worker count', { agent: { workers: 2.5 } }, 'agent.workers'],
    ['zero workers', { agent: { workers: 0 } }, 'agent.workers'],
    ['half a MB of memory', { agent: { memoryMb: 0.5 } }, 'agent.memoryMb'],
    ['zero MB of module cache', { agent: { moduleCacheMb: 0 } }, 'agent.moduleCacheMb'],
    ['more pre-started workers than 64', { agent: { prestartWorkers: 65 } }, 'agent.prestartWorkers'],
    ['fractional module cache', { agent: { moduleCacheMb: 1.5 } }, 'agent.moduleCacheMb'],
    ['module dir that is not a string', { agent: { moduleDirs: [42 as never] } }, 'agent.moduleDirs'],
    ['worker user with a colon', { agent: { workerUser: 'no:body' } }, 'agent.workerUser'],
    ['durable that is not a boolean', { tasks: { durable: 'yes' as never } }, 'tasks.durable'],
    ['zero maxResultBytes', { tasks: { maxResultBytes: 0 } }, 'tasks.maxResultBytes'],
    ['fractional maxResultBytes', { tasks: { maxResultBytes: 1.5 } }, 'tasks.maxResultBytes']
  ])('rejects a %s', (_label, init, option) => {
    const err = configError({ dev: true, ...init })
    expect(err.option).toBe(option)
    expect(err.message.startsWith(`${option}: `)).toBe(true)
  })

  it('an agent: defaults filled, fractional CPU slots kept, bounds inclusive', () => {
    const defaults = resolveConfig({ dev: true, agent: true }).agent!
    expect(defaults).toMatchObject({ weight: 1, strategy: 'horizontal', attachTimeoutMs: 30_000 })
    expect(Number.isInteger(defaults.workers) && defaults.workers >= 1).toBe(true)
    expect(defaults.memoryMb).toBeGreaterThanOrEqual(256)
    expect(resolveConfig({ dev: true, agent: { cpu: 1.5, weight: -1e6, strategy: 'vertical', workers: 4096, memoryMb: 1 } }).agent)
      .toEqual({ cpu: 1.5, weight: -1e6, strategy: 'vertical', workers: 4096, memoryMb: 1, attachTimeoutMs: 30_000, moduleDirs: [], moduleCacheMb: 256, workerUser: undefined, prestartWorkers: 2, workerEnv: {} })
    expect(resolveConfig({ dev: true, agent: { moduleDirs: ['/srv/app'], moduleCacheMb: 1, workerUser: 'nobody' } }).agent)
      .toMatchObject({ moduleDirs: ['/srv/app'], moduleCacheMb: 1, workerUser: 'nobody' })
    expect(resolveConfig({ dev: true, agent: { attachTimeoutMs: 100 } }).agent?.attachTimeoutMs).toBe(100)
    expect(() => resolveConfig({ dev: true, agent: { attachTimeoutMs: 99 } })).toThrow(/attachTimeoutMs/)
    expect(resolveConfig({ dev: true, agent: false }).agent).toBeUndefined()
  })

  it('a refused weight says the bound it broke', () => {
    expect(configError({ dev: true, agent: { weight: 2e6 } }).message).toBe('agent.weight: must be a number from -1000000 to 1000000, got 2000000')
  })

  it('keeps the address error as the cause of a peer error', () => {
    const err = configError({ dev: true, peers: ['host:0'] })
    expect((err.cause as { code?: string }).code).toBe('ERR_INVALID_ADDRESS')
  })
})

describe('resolveConfig: the shape of the options (what a plain-JS caller or a typo meets)', () => {
  const bad = (init: unknown): ConfigError => configError(init as GridNodeInit)

  it('refuses options that are not an object, naming them, instead of a TypeError', () => {
    expect(bad(undefined).option).toBe('options')
    expect(bad(null).option).toBe('options')
    expect(bad('dev').option).toBe('options')
  })

  it('refuses an unknown key, at the top and in each section, instead of ignoring it', () => {
    expect(bad({ dev: true, hartbeatMs: 100 }).option).toBe('hartbeatMs')
    expect(bad({ dev: true, agent: { worker: 2 } }).option).toBe('agent.worker')
    expect(bad({ dev: true, channels: { maxValue: 1 } }).option).toBe('channels.maxValue')
    expect(bad({ dev: true, tasks: { durabel: false } }).option).toBe('tasks.durabel')
    expect(bad({ dev: true, deployments: { runs: false } }).option).toBe('deployments.runs')
  })

  it('refuses sections and values of the wrong type, naming the option', () => {
    expect(bad({ dev: true, agent: 'yes' }).option).toBe('agent')
    expect(bad({ dev: true, channels: 5 }).option).toBe('channels')
    expect(bad({ dev: true, tasks: 5 }).option).toBe('tasks')
    expect(bad({ dev: true, deployments: 5 }).option).toBe('deployments')
    expect(bad({ dev: true, peers: '10.0.0.5:4100' }).option).toBe('peers')
    expect(bad({ dev: true, announce: '10.0.0.5:4100' }).option).toBe('announce')
    expect(bad({ dev: true, peers: ['10.0.0.5:4100', 5] }).option).toBe('peers[1]')
    expect(bad({ dev: true, announce: [5] }).option).toBe('announce[0]')
    expect(bad({ dev: true, addons: 5 }).option).toBe('addons')
    expect(bad({ dev: true, addons: [5] }).option).toBe('addons[0]')
    expect(bad({ dev: true, dataDir: 5 }).option).toBe('dataDir')
    expect(bad({ dev: true, stateHome: 5 }).option).toBe('stateHome')
    expect(bad({ dev: true, devName: 5 }).option).toBe('devName')
    expect(bad({ dev: true, crl: 5 }).option).toBe('crl')
    expect(bad({ dev: 'yes' }).option).toBe('dev')
    expect(bad({ dev: true, logger: {} }).option).toBe('logger')
  })

  it('checks the deployments timings, which nothing else checks', () => {
    expect(bad({ dev: true, deployments: { stepMs: -1 } }).option).toBe('deployments.stepMs')
    expect(bad({ dev: true, deployments: { leaseMs: Number.NaN } }).option).toBe('deployments.leaseMs')
    expect(bad({ dev: true, deployments: { run: 'no' } }).option).toBe('deployments.run')
    expect(resolveConfig({ dev: true, deployments: { run: false, stepMs: 50 } }).deployments).toEqual({ run: false, stepMs: 50 })
  })

  it('refuses a timer delay past what a timer can wait (Node would wait 1 ms instead, with a TimeoutOverflowWarning)', () => {
    const over = 2 ** 31
    for (const [init, option] of [
      [{ stopTimeoutMs: over }, 'stopTimeoutMs'], [{ pingIntervalMs: over }, 'pingIntervalMs'], [{ certificateCheckMs: over }, 'certificateCheckMs'],
      [{ heartbeatMs: over }, 'heartbeatMs'], [{ reconnectMaxBackoffMs: over }, 'reconnectMaxBackoffMs'], [{ channels: { syncIntervalMs: over } }, 'channels.syncIntervalMs'],
      [{ tasks: { sizeEveryMs: over } }, 'tasks.sizeEveryMs'], [{ tasks: { cancelGraceMs: over } }, 'tasks.cancelGraceMs'], [{ deployments: { stepMs: over } }, 'deployments.stepMs']
    ] as const) expect(bad({ dev: true, ...init }).option).toBe(option)
    expect(resolveConfig({ dev: true, heartbeatMs: 2 ** 31 - 1 }).membership.heartbeatMs).toBe(2 ** 31 - 1)
  })

  it('takes every key with an undefined value (what the CLI passes for a flag not given)', () => {
    expect(() => resolveConfig({ dev: true, heartbeatMs: undefined, agent: { workers: undefined }, channels: { maxChannels: undefined } })).not.toThrow()
  })
})

describe('resolveConfig: a number given as a string (what a JS caller passes from process.env)', () => {
  // port '4100' was taken (the address parser reads strings): every numeric option refuses it, naming itself
  it.each<[string, object]>([
    ['port', { port: '4100' }], ['stopTimeoutMs', { stopTimeoutMs: '100' }], ['pingIntervalMs', { pingIntervalMs: '100' }],
    ['certificateCheckMs', { certificateCheckMs: '100' }], ['heartbeatMs', { heartbeatMs: '100' }], ['suspectAfterMs', { suspectAfterMs: '100' }],
    ['suspicionMinMs', { suspicionMinMs: '100' }], ['suspicionMaxMs', { suspicionMaxMs: '100' }], ['reconnectForMs', { reconnectForMs: '100' }],
    ['reconnectMaxBackoffMs', { reconnectMaxBackoffMs: '100' }], ['forgetLeftAfterMs', { forgetLeftAfterMs: '100' }], ['maxMeshPeers', { maxMeshPeers: '8' }],
    ['maxMembers', { maxMembers: '8' }], ['monitors', { monitors: '2' }], ['refreshPerMemberMs', { refreshPerMemberMs: '100' }], ['refreshMinMs', { refreshMinMs: '100' }],
    ['agent.workers', { agent: { workers: '2' } }], ['agent.cpu', { agent: { cpu: '2' } }], ['agent.memoryMb', { agent: { memoryMb: '512' } }],
    ['agent.weight', { agent: { weight: '1' } }], ['agent.attachTimeoutMs', { agent: { attachTimeoutMs: '1000' } }],
    ['agent.moduleCacheMb', { agent: { moduleCacheMb: '16' } }], ['agent.prestartWorkers', { agent: { prestartWorkers: '1' } }],
    ['channels.maxValueBytes', { channels: { maxValueBytes: '1024' } }], ['channels.syncIntervalMs', { channels: { syncIntervalMs: '100' } }],
    ['channels.maxChannels', { channels: { maxChannels: '8' } }], ['tasks.window', { tasks: { window: '8' } }], ['tasks.maxWorkers', { tasks: { maxWorkers: '8' } }],
    ['deployments.stepMs', { deployments: { stepMs: '100' } }]
  ])('%s', (option, init) => {
    const err = configError({ dev: true, ...init } as GridNodeInit)
    expect(err.option).toBe(option)
    expect(err.message).toMatch(/got "\d+"$/)
  })

  it('port: the rule and the value given', () => {
    expect(configError({ dev: true, port: '4100' as never }).message).toBe('port: must be an integer port from 0 to 65535 (0 picks a free one), got "4100"')
  })
})
