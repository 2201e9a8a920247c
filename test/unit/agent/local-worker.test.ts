import { it, expect } from 'vitest'
import { fork } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalWorker } from '../../../src/agent/local-worker.ts'
import { MemoryLimitError, StageSetupError, WorkerExitedError, WorkerStoppedError } from '../../../src/errors.ts'
import { toWireError } from '../../../src/wire/wire-error.ts'

/** A worker child in a few lines: ready, then each item back as its result. */
const ECHO_CHILD = `
process.send({ type: 'ready' })
process.on('message', m => {
  if (m.type === 'batch') process.send({ type: 'results', results: m.items.map(({ id, item }) => ({ id, value: item })) })
  else if (m.type === 'stop') process.exit(0)
})
`

it('an item the IPC serializer cannot take fails alone, and the agent stays up (found by npm run fuzz: it threw in a timer)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-local-worker-'))
  const file = join(dir, 'child.mjs')
  await writeFile(file, ECHO_CHILD)
  // as the spawner forks workers: structured-clone IPC
  const child = fork(file, [], { serialization: 'advanced', stdio: 'ignore' })
  const worker = new LocalWorker(child, { id: 'w-000000000001', stage: 'echo', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000001', stage: 'echo', modulePath: file, env: {}, concurrency: 1, watchdog: false })
  const uncaught: unknown[] = []
  const onUncaught = (err: unknown): void => { uncaught.push(err) }
  process.on('uncaughtException', onUncaught)
  try {
    // what a requester's JSON may hold (JSON.parse takes it): arrays nested 100,000 deep
    const deep = JSON.parse(`${'['.repeat(100_000)}0${']'.repeat(100_000)}`) as unknown
    const results = await Promise.allSettled([worker.process(1), worker.process(deep), worker.process({ a: 2 })])
    expect(results[0]).toEqual({ status: 'fulfilled', value: 1 })
    expect(results[1].status).toBe('rejected')
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/cannot be sent to the worker/)
    expect(results[2]).toEqual({ status: 'fulfilled', value: { a: 2 } })
    expect(uncaught).toEqual([])
    expect(worker.alive).toBe(true)
  } finally {
    process.off('uncaughtException', onUncaught)
    await worker.kill()
    await rm(dir, { recursive: true, force: true })
  }
})

/** A worker child that never answers: every item stays in flight; `crash` exits 1 as a crashing stage would. */
const HOLDING_CHILD = `
process.send({ type: 'ready' })
process.on('message', m => {
  if (m.type === 'batch' && m.items.some(i => i.item === 'crash')) process.exit(1)
  else if (m.type === 'stop') process.exit(0)
})
`

it('a worker its agent stops (kill, graceful or not) exits as stopped, its items failing with WorkerStoppedError; one that crashes or that the watchdog kills does not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-local-worker-'))
  const file = join(dir, 'child.mjs')
  await writeFile(file, HOLDING_CHILD)
  let n = 0
  /** Resolves once the last child started says it is ready (a worker killed before that ended in setup). */
  let ready = Promise.resolve()
  const start = (): LocalWorker => {
    const child = fork(file, [], { serialization: 'advanced', stdio: 'ignore' })
    ready = new Promise(resolve => { child.on('message', (m: { type?: string }) => { if (m.type === 'ready') resolve() }) })
    const id = `w-${String(++n).padStart(12, '0')}`
    return new LocalWorker(child, { id, stage: 'hold', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: id, stage: 'hold', modulePath: file, env: {}, concurrency: 1, watchdog: false })
  }
  const outcome = async (worker: LocalWorker, item: unknown, end: () => unknown): Promise<[unknown, boolean]> => {
    const settled = worker.process(item).catch((err: unknown) => err)
    await new Promise(resolve => setTimeout(resolve, 100))
    await end()
    return [await settled, (await worker.exited).stopped === true]
  }
  try {
    for (const graceful of [true, false]) {
      const worker = start()
      const [err, stopped] = await outcome(worker, 'x', async () => await worker.kill({ graceful }))
      expect(err).toBeInstanceOf(WorkerStoppedError)
      expect(stopped).toBe(true)
    }
    const crashing = start()
    const [crashed, crashStopped] = await outcome(crashing, 'crash', () => undefined)
    expect(crashed).toBeInstanceOf(WorkerExitedError)
    expect(crashStopped).toBe(false)
    const hog = start()
    await ready
    const [killed, hogStopped] = await outcome(hog, 'x', () => { hog.killFor(toWireError(new MemoryLimitError(hog.info.id, 300, 256))) })
    expect(killed).toBeInstanceOf(WorkerExitedError)
    expect(String(killed)).toMatch(/MemoryLimitError/)
    expect(hogStopped).toBe(false)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

it('a worker that ends before it said it is ready ended in setup: its exit says setupFailed and its items fail with StageSetupError, not as a crash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-local-worker-'))
  const file = join(dir, 'never-ready.mjs')
  // a setup that fails: the host exits before its ready message
  await writeFile(file, 'setTimeout(() => process.exit(1), 200)\n')
  try {
    const child = fork(file, [], { serialization: 'advanced', stdio: 'ignore' })
    const worker = new LocalWorker(child, { id: 'w-000000000009', stage: 's', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000009', stage: 's', modulePath: file, env: {}, concurrency: 1, watchdog: false })
    const err = await worker.process('x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StageSetupError)
    expect((await worker.exited).setupFailed).toBe(true)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
