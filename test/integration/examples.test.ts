import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Runs an example to completion; on timeout execFile sends SIGTERM (each test's own timeout is longer, so this comes first). */
const run = async (example: string, args: string[] = []): Promise<string> => await new Promise((resolve, reject) => {
  execFile(process.execPath, [fileURLToPath(new URL(`../../examples/${example}/run.ts`, import.meta.url)), ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
    if (err != null) reject(new Error(`${example} failed: ${err.message}\n${stderr}`))
    else resolve(stdout)
  })
})

describe('examples run on a dev grid', () => {
  it('hello upper-cases its words through a TypeScript stage', async () => {
    const out = await run('hello')
    expect(out.split('\n').slice(0, 4).sort()).toEqual(['GRID', 'HELLO', 'OF', 'WORKERS'])
    expect(out).toMatch(/in: 4,\s+out: 4,\s+failed: 0/)
  }, 100_000)

  it('addon: node B calls the hello add-on of node A over mTLS', async () => {
    const out = await run('addon')
    const answer = JSON.parse(out.split('\n')[0]!)
    expect(answer).toMatchObject({ message: 'hi, node B', membersAlive: 1 })
    // a port-0 add-on found by the url node.use resolves to
    expect(out).toMatch(/A's health add-on at http:\/\/127\.0\.0\.1:[1-9]\d*: ready/)
    expect(out).toMatch(/add-ons in use on A: hello, health; on B: ask-hello/)
  }, 100_000)

  it('logs fans 200 chunks out to 10,000 records and drops the 2,500 debug lines', async () => {
    const out = await run('logs')
    expect(out).toMatch(/in: 200,\s+out: 7500,\s+failed: 0/)
    expect(out).toMatch(/platform\/error\s+│\s+834/)
  }, 100_000)

  it('tasks: node.run, a session with counts and a remote stack, then the CLI runs the registered task by name', async () => {
    const out = await run('tasks')
    expect(out).toContain('run: { width: 960, height: 540 }')
    expect(out).toMatch(/progress of the first: 100%/)
    expect(out).toContain('failed: RangeError: scale must be above 0, got -1 at resize.ts:8')
    expect(JSON.parse(/counts: (.*)/.exec(out)![1]!)).toMatchObject({ completed: 3, failed: 1, running: 0, queued: 0 })
    expect(out).toContain('grid task run resize: {"width":320,"height":240}')
  }, 100_000)

  it('npm start (the demo): 1 member + 2 agent processes run primes with a live view each second, then the summary', async () => {
    const out = await run('demo', ['--quick', '--plain'])
    const frames = out.split('\n---\n').filter(f => f.includes('gridd demo:'))
    expect(frames.length).toBeGreaterThanOrEqual(5)
    const last = frames.at(-1)!
    // the owner, the member and both agents, all alive; the stage table with its pressure
    expect(last.match(/ alive /g)).toHaveLength(4)
    expect(last.match(/ agent +alive /g)).toHaveLength(2)
    expect(last).toMatch(/count-primes +\d+ +[\d.]+ +[\d.]+ +\d+ +\d+ +(high|even|low)/)
    // some frame showed workers on the agents by stage
    expect(frames.some(f => /agent +alive +\d+% +count-primes [1-9]/.test(f))).toBe(true)
    const summary = JSON.parse(out.slice(out.indexOf('summary: ') + 9)) as { in: number, out: number, failed: number }
    expect(summary.in).toBeGreaterThan(100)
    expect(summary).toMatchObject({ out: summary.in, failed: 0 })
  }, 100_000)
})
