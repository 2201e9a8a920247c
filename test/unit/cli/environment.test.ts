import { describe, it, expect, afterEach } from 'vitest'
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { buildProgram } from '../../../src/cli/index.ts'

type Flags = Record<string, unknown>

/** Parses `grid <command> ...args` with `env` as the only GRID_* environment; the command's action only captures its flags. */
async function parse (command: string[], args: string[], env: Record<string, string> = {}): Promise<Flags> {
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith('GRID_'))
  for (const [k] of saved) Reflect.deleteProperty(process.env, k)
  Object.assign(process.env, env)
  try {
    const program = buildProgram()
    let cmd: Command = program
    for (const name of command) cmd = cmd.commands.find(c => c.name() === name)!
    let captured: Flags = {}
    cmd.action((...params: unknown[]) => { captured = params.at(-2) as Flags })
    cmd.configureOutput({ writeErr: () => {}, writeOut: () => {} })
    // a command that takes an argument gets a stand-in value for it
    const positional = cmd.registeredArguments.map(a => a.argChoices?.[0] ?? 'x')
    await program.parseAsync([...command, ...positional, ...args], { from: 'user' })
    return captured
  } finally {
    for (const k of Object.keys(env)) Reflect.deleteProperty(process.env, k)
    for (const [k, v] of saved) process.env[k] = v
  }
}

// [variable, flag, value, parsed option name, commands]: every variable the README documents for the CLI
const NODE = [['node']]
const TABLE: Array<[string, string, string, string, string[][]]> = [
  ['GRID_HOST', '--host', '10.1.2.3', 'host', NODE],
  ['GRID_PORT', '--port', '4242', 'port', NODE],
  ['GRID_PEERS', '--peer', '10.0.0.1:4100,10.0.0.2:4100', 'peer', NODE],
  ['GRID_CERTS', '--certs', '/etc/gridd/certs', 'certs', [['node'], ['status'], ['weight'], ['strategy']]],
  ['GRID_CERT_NAME', '--name', 'machine-b', 'name', [['node'], ['status']]],
  ['GRID_LOG_LEVEL', '--log-level', 'debug', 'logLevel', [['node'], ['status']]],
  ['GRID_HEARTBEAT_MS', '--heartbeat-ms', '250', 'heartbeatMs', NODE],
  ['GRID_SUSPECT_AFTER_MS', '--suspect-after-ms', '900', 'suspectAfterMs', NODE],
  ['GRID_RECONNECT_FOR_MS', '--reconnect-for-ms', '60000', 'reconnectForMs', NODE],
  ['GRID_AGENT', '--agent', '', 'agent', NODE],
  ['GRID_WORKERS', '--workers', '3', 'workers', NODE],
  ['GRID_CPU', '--cpu', '2.5', 'cpu', NODE],
  ['GRID_MEMORY', '--memory', '2048', 'memory', NODE],
  ['GRID_WEIGHT', '--weight', '0.5', 'weight', NODE],
  ['GRID_STRATEGY', '--strategy', 'vertical', 'strategy', NODE],
  ['GRID_DATA_DIR', '--data-dir', '/var/lib/gridd', 'dataDir', NODE],
  ['GRID_MODULE_DIRS', '--module-dir', '/srv/app,/srv/lib', 'moduleDir', NODE],
  ['GRID_MODULE_CACHE_MB', '--module-cache-mb', '64', 'moduleCacheMb', NODE],
  ['GRID_PRESTART_WORKERS', '--prestart-workers', '4', 'prestartWorkers', NODE],
  ['GRID_WORKER_USER', '--worker-user', 'nobody', 'workerUser', NODE],
  ['GRID_DASHBOARD', '--dashboard', '8081', 'dashboard', NODE],
  ['GRID_DASHBOARD_HOST', '--dashboard-host', '0.0.0.0', 'dashboardHost', NODE],
  ['GRID_METRICS', '--metrics', '9100', 'metrics', NODE],
  ['GRID_METRICS_HOST', '--metrics-host', '0.0.0.0', 'metricsHost', NODE],
  ['GRID_ADDONS', '--addon', './my-addon.ts', 'addon', NODE],
  ['GRID_CHANNEL_VALUE_BYTES', '--channel-value-bytes', '1000', 'channelValueBytes', NODE],
  ['GRID_TOMBSTONE_TTL_MS', '--tombstone-ttl-ms', '5000', 'tombstoneTtlMs', NODE],
  ['GRID_FORGET_LEFT_AFTER_MS', '--forget-left-after-ms', '5000', 'forgetLeftAfterMs', NODE],
  ['GRID_MAX_MEMBERS', '--max-members', '100', 'maxMembers', NODE],
  ['GRID_JOIN_TOKEN', '--join', 'gridd1.0123456789abcdef.x.y', 'join', NODE],
  ['GRID_CA_KEY', '--ca-key', '/etc/gridd/ca/ca.key', 'caKey', NODE],
  ['GRID_JOIN_PORT', '--join-port', '4101', 'joinPort', NODE],
  ['GRID_HEALTH', '--health', '8080', 'health', NODE],
  ['GRID_HEALTH_HOST', '--health-host', '0.0.0.0', 'healthHost', NODE],
  ['GRID_ANNOUNCE', '--announce', '10.0.0.5:4100', 'announce', NODE],
  ['GRID_MAX_CHANNELS', '--max-channels', '8', 'maxChannels', NODE],
  ['GRID_CHANNEL_KEYS', '--channel-keys', '1000', 'channelKeys', NODE],
  ['GRID_CHANNEL_BYTES', '--channel-bytes', '1000000', 'channelBytes', NODE],
  ['GRID_CHANNEL_SYNC_BYTES', '--channel-sync-bytes', '1048576', 'channelSyncBytes', NODE],
  ['GRID_CRL', '--crl', '/etc/gridd/crl.pem', 'crl', NODE],
  ['GRID_CERTIFICATE_CHECK_MS', '--certificate-check-ms', '1000', 'certificateCheckMs', NODE],
  ['GRID_TASKS', '--task', 'resize=./resize.ts', 'task', NODE],
  ['GRID_API', '--api', '8090', 'api', NODE],
  ['GRID_API_HOST', '--api-host', '0.0.0.0', 'apiHost', NODE],
  ['GRID_API_TLS', '--api-tls', '', 'apiTls', NODE],
  ['GRID_API_RATE_LIMIT', '--api-rate-limit', '100', 'apiRateLimit', NODE],
  ['GRID_API_JWT_SECRET_FILE', '--api-jwt-secret-file', '/etc/gridd/api.secret', 'apiJwtSecretFile', NODE],
  ['GRID_API_JWT_PUBLIC_KEY_FILE', '--api-jwt-public-key-file', '/etc/gridd/api.pub', 'apiJwtPublicKeyFile', NODE],
  ['GRID_API_JWKS_FILE', '--api-jwks-file', '/etc/gridd/jwks.json', 'apiJwksFile', NODE],
  ['GRID_API_JWT_ISSUER', '--api-jwt-issuer', 'https://idp.example', 'apiJwtIssuer', NODE],
  ['GRID_API_JWT_AUDIENCE', '--api-jwt-audience', 'gridd', 'apiJwtAudience', NODE],
  ['GRID_API_HOOKS', '--api-hook', 'deploy=resize:/etc/gridd/deploy.secret:wait', 'apiHook', NODE],
  ['GRID_NO_DEPLOYMENTS', '--no-deployments', '', 'deployments', NODE],
  ['GRID_PEER', '--peer', '10.0.0.1:4100', 'peer', [['status'], ['channel'], ['task', 'run'], ['task', 'get'], ['session', 'list'], ['session', 'cancel']]]
]

describe('GRID_* environment variables', () => {
  afterEach(() => { process.exitCode = undefined })

  it('the table covers every variable the README lists for the CLI (the GRID_TLS_* ones are read by tls-source)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    const line = readme.split('\n').find(l => l.startsWith('- Environment:'))!
    const documented = [...new Set([...line.matchAll(/GRID_[A-Z_]+/g)].map(m => m[0]).filter(v => !v.startsWith('GRID_TLS_')))]
    expect(documented.sort()).toEqual(TABLE.map(([variable]) => variable).sort())
  })

  for (const [variable, flag, value, key, commands] of TABLE) {
    for (const command of commands) {
      it(`${variable} sets ${flag} of grid ${command.join(' ')}, the same as the flag`, async () => {
        const required = command[0] === 'status' || command[0] === 'channel' ? (key === 'peer' ? [] : ['--peer', '127.0.0.1:1']) : command[0] === 'weight' || command[0] === 'strategy' ? ['--node', '127.0.0.1:1'] : []
        const fromFlag = await parse(command, [...required, ...(value === '' ? [flag] : [flag, value])])
        const fromEnv = await parse(command, required, { [variable]: value === '' ? 'true' : value })
        // without either (status refuses a missing --peer: then there is no value at all)
        const unset = await parse(command, required).catch(() => ({}) as Flags)
        expect(fromEnv[key]).toEqual(fromFlag[key])
        expect(fromEnv[key]).not.toEqual(unset[key])
      })
    }
  }

  it('a flag wins over its variable', async () => {
    expect((await parse(['node'], ['--port', '5000'], { GRID_PORT: '4242' })).port).toBe(5000)
    expect((await parse(['node'], ['--strategy', 'horizontal'], { GRID_STRATEGY: 'vertical' })).strategy).toBe('horizontal')
  })

  it('a bad value in a variable is refused like the same bad flag, naming the flag', async () => {
    await expect(parse(['node'], [], { GRID_PORT: 'abc' })).rejects.toThrow(/--port.*abc/)
    await expect(parse(['node'], [], { GRID_STRATEGY: 'diagonal' })).rejects.toThrow(/--strategy.*diagonal/)
  })

  it('a switch variable is read as on or off: GRID_AGENT=false makes no agent, GRID_API_TLS=0 no HTTPS', async () => {
    for (const off of ['false', '0', 'no', 'off', '']) {
      expect((await parse(['node'], [], { GRID_AGENT: off })).agent, `GRID_AGENT=${JSON.stringify(off)}`).toBeUndefined()
      expect((await parse(['node'], [], { GRID_API_TLS: off })).apiTls, `GRID_API_TLS=${JSON.stringify(off)}`).toBeUndefined()
    }
    for (const on of ['true', '1', 'yes', 'on', 'TRUE']) expect((await parse(['node'], [], { GRID_AGENT: on })).agent).toBe(true)
    // the flag still wins over a variable that says off
    expect((await parse(['node'], ['--agent'], { GRID_AGENT: 'false' })).agent).toBe(true)
  })

  it('every grid node option has an environment variable (DESIGN §8), but --ca/--cert/--key (GRID_TLS_*) and --dev', () => {
    const node = buildProgram().commands.find(c => c.name() === 'node')!
    const without = node.options.filter(o => o.envVar == null).map(o => o.long)
    expect(without.sort()).toEqual(['--ca', '--cert', '--dev', '--key'])
  })

  it('GRID_NO_DEPLOYMENTS is a switch: 1 keeps deployments off this node, 0 or empty leaves them on; the flag wins', async () => {
    for (const on of ['1', 'true', 'yes']) expect((await parse(['node'], [], { GRID_NO_DEPLOYMENTS: on })).deployments).toBe(false)
    for (const off of ['0', 'false', 'no', 'off', '']) expect((await parse(['node'], [], { GRID_NO_DEPLOYMENTS: off })).deployments, `GRID_NO_DEPLOYMENTS=${JSON.stringify(off)}`).toBe(true)
    expect((await parse(['node'], ['--no-deployments'], { GRID_NO_DEPLOYMENTS: '0' })).deployments).toBe(false)
    await expect(parse(['node'], [], { GRID_NO_DEPLOYMENTS: 'maybe' })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/^GRID_NO_DEPLOYMENTS: /) })
  })

  it('GRID_API_HOOKS holds several hooks, comma-separated, as GRID_TASKS does', async () => {
    const hooks = 'a=t:/s/a.secret,b=t:/s/b.secret:wait'
    expect((await parse(['node'], [], { GRID_API_HOOKS: hooks })).apiHook).toEqual(['a=t:/s/a.secret', 'b=t:/s/b.secret:wait'])
  })

  it('a switch variable that is neither on nor off is refused, naming it (exit 2: ERR_CONFIG)', async () => {
    await expect(parse(['node'], [], { GRID_AGENT: 'maybe' })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/^GRID_AGENT: .*"maybe"/) })
  })
})
