import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import type { GridNode } from '../../src/node.ts'
import type { DeploymentView } from '../../src/deployments/types.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { expectExactlyOnce, expectedIds, output, pendingCount, produce } from './helpers/streams.ts'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/durable/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '8', '--cpu', '8', '--memory', '8192', '--no-deployments']
const ENTRIES = 20_000

describe('pipeline deployments: one owner runs it, another takes over when it is SIGKILLed', () => {
  let redisServer: RedisServer
  let redis: Redis
  let grid: GridFixture
  let members: GridProcess[]
  let observer: GridNode

  beforeAll(async () => {
    redisServer = await startRedis()
    redis = new Redis(redisServer.url, { protocol: 2 })
    // n7: the CLI's member certificate (a peer id of its own)
    grid = await GridFixture.create(7)
    const agents = await grid.startAgents(2, AGENT)
    members = await Promise.all(['n3', 'n4', 'n5'].map(async name => await grid.start(name, ['--peer', agents[0]!.address])))
    // in this process: deploys and watches, never runs a deployment itself
    observer = await grid.member('n6', agents[0]!, 2, { deployments: { run: false } })
    await eventually(() => members.every(m => observer.members().some(x => x.id === m.peerId && x.state === 'alive')) ? true : undefined)
  }, 60_000)

  afterAll(async () => {
    await grid?.close()
    redis?.disconnect()
    await redisServer?.stop()
  })

  const alive = (): GridProcess => members.find(m => m.proc.exitCode == null && m.proc.signalCode == null)!
  /** `grid pipeline …` through a member still running, with the grid's client certificate unless `extra` names another. */
  const cli = async (args: string[], extra: string[] = []): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await runGrid(['pipeline', ...args, '--peer', alive().address, '--certs', grid.dir, ...extra], { timeoutMs: 30_000 })

  it('refuses bad input with clear messages: a name, a missing file, a definition of the wrong shape, a client certificate deploying', async () => {
    await expect(observer.deploy('no spaces', fixture('deployment.mjs'))).rejects.toThrow(/deployment name is 1-64 letters/)
    await expect(observer.deploy('gone', fixture('missing.mjs'))).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('cannot read the pipeline definition') })
    await expect(observer.deploy('bad', fixture('not-a-definition.mjs'))).rejects.toMatchObject({ code: 'ERR_DEFINITION', message: expect.stringContaining('sink: must be a function') })
    // from the CLI a definition of the wrong shape is bad input, like a bad flag: exit 2, one line
    const wrongShape = await cli(['deploy', fixture('not-a-definition.mjs'), '--name', 'bad'], ['--cert-name', 'n7'])
    expect(wrongShape.code, wrongShape.stderr).toBe(2)
    expect(wrongShape.stderr).toMatch(/^grid: pipeline definition .*not-a-definition\.mjs: sink: must be a function/)
    const asClient = await cli(['deploy', fixture('deployment.mjs'), '--name', 'by-client'])
    expect(asClient.code).not.toBe(0)
    expect(asClient.stderr).toMatch(/may not use \/gridd\/deployments\/1\.0\.0 deploy/)
    expect((await cli(['status', 'nothing-here'])).stderr).toMatch(/no pipeline deployment "nothing-here"/)
  }, 60_000)

  it(`${ENTRIES.toLocaleString('en')} entries through a deployed 2-stage pipeline while the owner is SIGKILLed twice: exactly once by id, XPENDING empty`, async () => {
    const params = { url: redisServer.url, in: 'dep-in', out: 'dep-out' }
    // the CLI deploys with a member's certificate; the observer reads the grid-wide record
    const deployed = await cli(['deploy', fixture('deployment.mjs'), '--name', 'orders', '--params', JSON.stringify(params), '--json'], ['--cert-name', 'n7'])
    expect(deployed.code, deployed.stderr).toBe(0)
    expect(JSON.parse(deployed.stdout)).toMatchObject({ name: 'orders', version: 1, stopped: false, stages: ['fan', 'double'] })
    const status = (): DeploymentView => observer.deployments.status('orders')
    // the input arrives while the pipeline runs (an endless source): 20,000 entries over about 12 s
    const producing = (async () => {
      for (let from = 1; from <= ENTRIES; from += 500) {
        await produce(redis, 'dep-in', 500, from)
        await new Promise(resolve => setTimeout(resolve, 300))
      }
    })()
    const takeovers: Array<{ electedMs: number, resumedMs: number }> = []
    /** What the members logged about the deployment, and what the observer sees: the failure says why the output stalled. */
    const story = async (): Promise<string> => `${await redis.xlen('dep-out')} written; ${JSON.stringify(status())}\n` +
      members.flatMap(m => m.lines.filter(l => String(l.msg).startsWith('deployment') || l.level >= 40).map(l => `${m.peerId.slice(-6)} ${new Date(Number(l.time)).toISOString().slice(11, 23)} ${String(l.msg)} ${String((l.err as { message?: string } | undefined)?.message ?? '')}`)).join('\n')
    for (const killAt of [4000, 12_000]) {
      await eventually(async () => await redis.xlen('dep-out') >= killAt ? true : undefined, 90_000, 50)
        .catch(async (err: Error) => { throw new Error(`${err.message}: ${await story()}`) })
      const before = status()
      expect(before.progress?.state).toBe('running')
      const victim = members.find(m => m.peerId === before.owner)!
      expect(victim, `owner ${before.owner} is one of the member processes`).toBeDefined()
      await victim.stop('SIGKILL')
      const killedAt = performance.now()
      const after = await eventually(() => {
        const s = status()
        return s.owner != null && s.owner !== victim.peerId && s.progress?.state === 'running' && s.progress.token > before.token! ? s : undefined
      }, 30_000, 20)
      const electedMs = performance.now() - killedAt
      const written = await redis.xlen('dep-out')
      await eventually(async () => await redis.xlen('dep-out') > written ? true : undefined, 30_000, 20)
      takeovers.push({ electedMs, resumedMs: performance.now() - killedAt })
      expect(after.owner).not.toBe(before.owner)
    }
    await producing
    const expected = await expectedIds(redis, 'dep-in')
    expect(expected.size).toBe(ENTRIES * 1.25)
    await eventually(async () => (await output(redis, 'dep-out')).counts.size >= expected.size ? true : undefined, 60_000, 250)
    const { counts, values } = await output(redis, 'dep-out')
    expectExactlyOnce(counts, values, expected)
    await eventually(async () => await pendingCount(redis, 'dep-in', 'g') === 0 ? true : undefined, 10_000, 100)
    for (const [i, t] of takeovers.entries()) {
      process.stdout.write(`takeover ${i + 1}: new owner running ${Math.round(t.electedMs)} ms after the SIGKILL, output resumed after ${Math.round(t.resumedMs)} ms\n`)
      // generous: failure detection (200 ms heartbeats) plus the lease's run-out, grace and settle
      expect(t.electedMs).toBeLessThan(15_000)
    }
    // list, status and stop through the CLI: stop cancels the run everywhere
    const listed = await cli(['list'])
    expect(listed.stdout).toMatch(/orders\s+1\s+running/)
    expect((await cli(['remove', 'orders'], ['--cert-name', 'n7'])).stderr).toMatch(/is running: stop it first/)
    const stopped = await cli(['stop', 'orders', '--json'], ['--cert-name', 'n7'])
    expect(JSON.parse(stopped.stdout)).toMatchObject({ name: 'orders', stopped: true })
    await eventually(() => status().progress?.state === 'stopped' ? true : undefined, 15_000)
    // removed once stopped (a client may not; a running one is refused): gone from every member's list, its code with it
    expect((await cli(['remove', 'orders'])).stderr).toMatch(/may not use \/gridd\/deployments\/1\.0\.0 remove/)
    const removed = await cli(['remove', 'orders', '--json'], ['--cert-name', 'n7'])
    expect(removed.code).toBe(0)
    expect(JSON.parse(removed.stdout)).toMatchObject({ name: 'orders', stopped: true })
    await eventually(() => observer.deployments.list().length === 0 && ![...observer.channel('gridd.deployments').keys()].some(key => key.startsWith('c/')) ? true : undefined, 15_000)
    expect((await cli(['status', 'orders'])).stderr).toMatch(/no pipeline deployment "orders"/)
  // about a minute on an idle 2-core machine; generous for a loaded one
  }, 300_000)
})
