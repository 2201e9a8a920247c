import { it, expect } from 'vitest'
import { fork } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalWorker } from '../../../src/agent/local-worker.ts'

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
