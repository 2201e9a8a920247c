import { describe, it, expect, afterEach, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GridNode } from '../../src/node.ts'
import { devCertsDir } from '../../src/certs/dev.ts'

/** The throwaway data dirs in the temp dir now. */
const throwawayDirs = async (): Promise<string[]> => (await readdir(tmpdir())).filter(name => name.startsWith('gridd-dev-data-'))

describe('an embedded dev node on port 0 (a throwaway identity: its certificate in memory, dev.test.ts) leaves no data dir behind', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => { for (const clean of cleanups.splice(0)) await clean() })
  // a temp dir of this file's own (os.tmpdir() reads TMPDIR at each call): other files start throwaway dev nodes too
  const outerTmp = process.env.TMPDIR
  let privateTmp: string
  beforeAll(async () => { privateTmp = await mkdtemp(join(tmpdir(), 'gridd-throwaway-tmp-')); process.env.TMPDIR = privateTmp })
  afterAll(async () => {
    if (outerTmp == null) delete process.env.TMPDIR
    else process.env.TMPDIR = outerTmp
    await rm(privateTmp, { recursive: true, force: true })
  })

  it('its agent\'s data dir (a temp dir, not <stateHome>/gridd/<peer id>) removed at stop', async () => {
    const stateHome = await mkdtemp(join(tmpdir(), 'gridd-state-home-'))
    cleanups.push(async () => { await rm(stateHome, { recursive: true, force: true }) })
    const before = new Set(await throwawayDirs())
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 1 }, stateHome })
    cleanups.push(async () => { await node.stop() })
    const mine = (await throwawayDirs()).filter(name => !before.has(name))
    // the agent made its data dir (its module cache) at start: there, not under stateHome
    expect(mine).toHaveLength(1)
    expect(existsSync(join(stateHome, 'gridd'))).toBe(false)
    await node.stop()
    expect(existsSync(join(tmpdir(), mine[0]!))).toBe(false)
  })

  it('a start aborted at any point leaves no throwaway data dir behind', async () => {
    for (const ms of [0, 2, 5, 10, 20, 40, 80, 160]) {
      const started = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 1 } }, { signal: AbortSignal.timeout(ms) }).catch(() => undefined)
      await started?.stop()
      expect(await throwawayDirs(), `aborted after ${ms} ms`).toEqual([])
    }
  })

  it('a dev node with a name (devName, or a fixed port) keeps its identity and default data dir across restarts, as before', async () => {
    const stateHome = await mkdtemp(join(tmpdir(), 'gridd-state-home-'))
    cleanups.push(async () => { await rm(stateHome, { recursive: true, force: true }) })
    const devName = `throwaway-test-${process.pid}`
    cleanups.push(async () => { await rm(join(devCertsDir(), `${devName}.crt`), { force: true }); await rm(join(devCertsDir(), `${devName}.key`), { force: true }) })
    const first = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, devName, agent: { workers: 1 }, stateHome })
    const id = first.peerId
    await first.stop()
    const again = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, devName, agent: { workers: 1 }, stateHome })
    cleanups.push(async () => { await again.stop() })
    expect(again.peerId).toBe(id)
    expect(existsSync(join(stateHome, 'gridd', id))).toBe(true)
  })
})
