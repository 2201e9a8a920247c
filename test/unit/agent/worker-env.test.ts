import { describe, it, expect } from 'vitest'
import { WORKER_ENV_ALLOWLIST, workerEnvironment } from '../../../src/agent/worker-env.ts'

describe('workerEnvironment: the allowlisted part of the agent\'s environment', () => {
  const agentEnv = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/agent',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    LC_TIME: 'en_GB',
    TZ: 'UTC',
    NODE_ENV: 'production',
    GRID_TLS_KEY: '-----BEGIN PRIVATE KEY-----',
    GRID_TLS_CLIENT_KEY: '/etc/gridd/client.key',
    GRID_PORT: '4100',
    AWS_SECRET_ACCESS_KEY: 'secret',
    NODE_OPTIONS: '--require /tmp/hook.js',
    UNSET: undefined
  }

  it('keeps the allowlisted names and LC_*, nothing else', () => {
    expect(workerEnvironment(agentEnv)).toEqual({ PATH: '/usr/bin:/bin', HOME: '/home/agent', LANG: 'C.UTF-8', LC_ALL: 'C', LC_TIME: 'en_GB', TZ: 'UTC', NODE_ENV: 'production' })
  })

  it('never lets a GRID_* variable through, whatever the list says', () => {
    expect(WORKER_ENV_ALLOWLIST.some(name => name.startsWith('GRID_'))).toBe(false)
    expect(Object.keys(workerEnvironment(agentEnv)).filter(name => name.startsWith('GRID_'))).toEqual([])
  })

  it('is empty for an empty environment (an embedded agent that passes none)', () => {
    expect(workerEnvironment({})).toEqual({})
  })
})
