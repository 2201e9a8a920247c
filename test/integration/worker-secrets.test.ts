import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmod, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import type { GridNode } from '../../src/node.ts'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import type { GridProcess, LogLine } from './helpers/grid-process.ts'
import { eventually, runGrid, startNode } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import type { WorkerHandle } from '../../src/owner/worker-handle.ts'
import { MAX_OUTPUT_LINE_BYTES, OUTPUT_LINES_PER_SECOND } from '../../src/agent/worker-output.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096', ...FAST]

describe('workers cannot read their agent\'s secrets, and cannot write its log (real processes)', () => {
  let grid: GridFixture
  let agent: GridProcess
  let member: GridNode
  const spawned: WorkerHandle[] = []
  // a value only the spawn's env carries: found anywhere else, it leaked
  const token = `tok-${randomBytes(8).toString('hex')}`

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    const pem = async (file: string): Promise<string> => await readFile(join(grid.dir, file), 'utf8')
    // the agent's key as PEM text in its environment: exactly what a worker must never see
    agent = await startNode(AGENT, {
      GRID_TLS_CA: await pem('ca.crt'),
      GRID_TLS_CERT: await pem('n1.crt'),
      GRID_TLS_KEY: await pem('n1.key'),
      AGENT_ONLY_SECRET: 'agent-secret',
      TZ: 'UTC',
      LC_MESSAGES: 'C'
    })
    grid.nodes.push(agent)
    member = await grid.member('n2', agent, 1)
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.allSettled(spawned.map(async w => await w.kill())), async () => await grid?.close())
  })

  async function spawn (name: string, env?: Record<string, string>): Promise<WorkerHandle> {
    const handle = await member.workers.spawn({ stage: name.replace(/\.mjs$/, ''), module: stage(name), resources: { cpu: 1, memoryMb: 256 }, env })
    spawned.push(handle)
    return handle
  }

  it('a worker\'s environment is the allowlisted part of its agent\'s plus its spawn\'s env: no GRID_* variable, no other secret', async () => {
    const handle = await spawn('environment.mjs', { STAGE_TOKEN: token })
    const { env, ctxEnv } = await handle.process(null) as { env: Record<string, string>, ctxEnv: Record<string, string> }
    expect(Object.keys(env).filter(name => name.startsWith('GRID_'))).toEqual([])
    expect(JSON.stringify(env)).not.toContain('PRIVATE KEY')
    expect(env.AGENT_ONLY_SECRET).toBeUndefined()
    expect(env).toMatchObject({ STAGE_TOKEN: token, TZ: 'UTC', LC_MESSAGES: 'C' })
    expect(env.PATH).toBeTruthy()
    expect(ctxEnv).toEqual({ STAGE_TOKEN: token })
    // the environment the process was started with (what /proc shows), not only what the stage sees now
    const initial = await readFile(`/proc/${handle.pid}/environ`, 'utf8')
    expect(initial).not.toMatch(/(^|\0)GRID_/)
    expect(initial).not.toContain('agent-secret')
    await handle.kill()
  })

  it('the spawn\'s env is not on a running worker\'s command line (ps, /proc/<pid>/cmdline)', async () => {
    const handle = await spawn('environment.mjs', { STAGE_TOKEN: token })
    const { argv } = await handle.process(null) as { argv: string[] }
    const cmdline = await readFile(`/proc/${handle.pid}/cmdline`, 'utf8')
    expect(cmdline).not.toContain(token)
    expect(cmdline).not.toContain('STAGE_TOKEN')
    // labels only: the worker id (the reaper of leftover workers matches it) and the stage name, or
    // "(pre-started)" when the spawn took a host the agent had started ahead of need
    expect(argv.slice(2)).toEqual([handle.id, expect.stringMatching(/^(environment|\(pre-started\))$/)])
    await handle.kill()
  })

  it('a stage printing a forged JSON log line shows up as one structured line of the agent\'s log, tagged with worker, stage and stream', async () => {
    const handle = await spawn('prints.mjs')
    const forged = JSON.stringify({ level: 50, time: Date.now(), pid: 1, hostname: 'x', msg: 'forged by a stage', peer: 'nobody' })
    const mark = agent.mark()
    await handle.process({ stdout: [forged], stderr: ['\x1b[31mred\x1b[0m and a\rcarriage return'] })
    const fromWorker = (l: LogLine): boolean => l.worker === handle.id
    const out = await agent.waitFor(l => fromWorker(l) && l.stream === 'stdout', 10_000, mark)
    expect(out).toMatchObject({ level: 30, msg: forged, worker: handle.id, stage: 'prints', stream: 'stdout' })
    const err = await agent.waitFor(l => fromWorker(l) && l.stream === 'stderr', 10_000, mark)
    expect(err).toMatchObject({ level: 40, msg: 'red and acarriage return', stage: 'prints' })
    expect(agent.lines.filter(l => l.msg === 'forged by a stage')).toEqual([])
    await handle.kill()
  })

  it('an over-long line is cut at 16 KiB and marked', async () => {
    const handle = await spawn('prints.mjs')
    const mark = agent.mark()
    await handle.process({ stdout: ['y'.repeat(100_000), 'after the long one'] })
    const cut = await agent.waitFor(l => l.worker === handle.id && l.stream === 'stdout', 10_000, mark)
    expect(cut).toMatchObject({ cut: true, msg: 'y'.repeat(MAX_OUTPUT_LINE_BYTES) })
    expect(await agent.waitFor(l => l.worker === handle.id && l.msg === 'after the long one', 10_000, mark)).not.toHaveProperty('cut')
    await handle.kill()
  })

  it('a stage printing in a loop never blocks and cannot flood the log: the lines over the rate are counted and the count logged', async () => {
    const handle = await spawn('prints.mjs')
    const flood = 200_000
    const mark = agent.mark()
    const started = performance.now()
    // ~3.4 MB written synchronously (pipes are synchronous on Linux): it returns only if the agent drains the pipe
    expect(await handle.process({ flood })).toEqual({ printed: true })
    expect(await handle.process({ stdout: ['still answering'] })).toEqual({ printed: true })
    const fromWorker = (): LogLine[] => agent.lines.slice(mark).filter(l => l.worker === handle.id)
    // every line printed (the flood and "still answering") is either logged or counted in a "lines dropped" line
    await eventually(() => {
      const lines = fromWorker()
      const logged = lines.filter(l => l.stream === 'stdout').length
      const dropped = lines.reduce((sum, l) => sum + (typeof l.dropped === 'number' ? l.dropped : 0), 0)
      return logged + dropped === flood + 1 ? true : undefined
    }, 15_000).catch((err: Error) => {
      const lines = fromWorker()
      throw new Error(`${err.message}: logged ${lines.filter(l => l.stream === 'stdout').length}, drop lines ${JSON.stringify(lines.filter(l => l.dropped != null))}`)
    })
    const windows = Math.ceil((performance.now() - started) / 1000) + 1
    const logged = fromWorker().filter(l => l.stream === 'stdout').length
    // at most one window's worth per second the flood and its reading took
    expect(logged).toBeLessThanOrEqual(OUTPUT_LINES_PER_SECOND * windows)
    expect(logged).toBeGreaterThan(0)
    await handle.kill()
  })
})

describe('private key files: OpenSSH\'s rule (real `grid` processes)', () => {
  let grid: GridFixture

  beforeAll(async () => { grid = await GridFixture.create(1) })
  afterAll(async () => { await grid?.close() })

  it('`grid node` with a key file readable by others exits 2 and says `chmod 600 <file>`', async () => {
    const key = join(grid.dir, 'n1.key')
    await chmod(key, 0o644)
    try {
      const res = await runGrid(['node', '--certs', grid.dir, '--name', 'n1', '--host', '127.0.0.1', '--port', '0'], { timeoutMs: 20_000 })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr).toContain(`chmod 600 ${key}`)
      expect(res.stdout).not.toMatch(/grid node listening/)
    } finally {
      await chmod(key, 0o600)
    }
  })

  it('so does a client command (`grid status`) with a group-readable client key', async () => {
    const key = join(grid.dir, 'client.key')
    await chmod(key, 0o640)
    try {
      const res = await runGrid(['status', '--peer', '127.0.0.1:1', '--certs', grid.dir, '--timeout', '2000'], { timeoutMs: 20_000 })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr).toContain(`chmod 600 ${key}`)
    } finally {
      await chmod(key, 0o600)
    }
  })

  it('a node warns when it can read a CA private key in its certificate directory', async () => {
    const node = await grid.start('n1')
    const warning = await node.firstLine(l => l.level === 40 && l.path === join(grid.dir, 'ca', 'ca.key'))
    expect(warning.msg).toMatch(/CA private key is readable/)
  })
})
