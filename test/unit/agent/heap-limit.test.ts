import { it, expect } from 'vitest'
import { fork } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalWorker } from '../../../src/agent/local-worker.ts'
import { ERR_MEMORY_LIMIT, WorkerExitedError } from '../../../src/errors.ts'

/** A worker child whose item fills its JS heap (V8 then prints its out-of-memory line and aborts). */
const HEAP_FILLING_CHILD = `
process.send({ type: 'ready' })
const kept = []
process.on('message', m => {
  if (m.type === 'batch') for (;;) kept.push(new Array(100_000).fill(Math.random()))
})
`

it('a worker that fills its JS heap (--max-old-space-size) and is aborted by V8 exits with MemoryLimitError, not a bare SIGABRT', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-heap-limit-'))
  const file = join(dir, 'child.mjs')
  await writeFile(file, HEAP_FILLING_CHILD)
  // as the spawner forks a worker with a memory limit: its heap bounded, its stderr a pipe
  const child = fork(file, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--max-old-space-size=32'] })
  const worker = new LocalWorker(child, { id: 'w-000000000001', stage: 'fill', pid: child.pid ?? 0, resources: { cpu: 1, memoryMb: 32 } }, { workerId: 'w-000000000001', stage: 'fill', modulePath: file, env: {}, concurrency: 1, watchdog: false })
  try {
    const err = await worker.process('x').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(WorkerExitedError)
    expect(String(err)).toMatch(/MemoryLimitError: worker w-000000000001 filled its JS heap/)
    const exit = await worker.exited
    expect(exit.signal).toBe('SIGABRT')
    expect(exit.error).toMatchObject({ name: 'MemoryLimitError', code: ERR_MEMORY_LIMIT })
  } finally {
    await worker.kill()
    await rm(dir, { recursive: true, force: true })
  }
}, 30_000)
