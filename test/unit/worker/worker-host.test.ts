import { it, expect } from 'vitest'
import { fork } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serialize } from 'node:v8'
import { LocalWorker } from '../../../src/agent/local-worker.ts'
import { sendOutputs } from '../../../src/worker/send-outputs.ts'
import type { WorkerOutput } from '../../../src/worker/ipc.ts'
import { ERR_NOT_SERIALIZABLE } from '../../../src/errors.ts'

const WORKER_HOST = fileURLToPath(new URL('../../../src/cli/worker-host.ts', import.meta.url))

/** A stage whose result for 'fn' holds a method: structured clone refuses it. */
const STAGE = `export default (item) => item === 'fn' ? { f () {} } : item\n`

it('a result the IPC serializer cannot take fails its item alone; the worker host stays up', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-worker-host-'))
  const file = join(dir, 'stage.mjs')
  await writeFile(file, STAGE)
  // as the spawner forks workers: structured-clone IPC
  const child = fork(WORKER_HOST, ['w-000000000001', 'unclonable'], { serialization: 'advanced', stdio: 'ignore' })
  const worker = new LocalWorker(child, { id: 'w-000000000001', stage: 'unclonable', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000001', stage: 'unclonable', modulePath: file, env: {}, concurrency: 4, watchdog: false })
  try {
    // one batch: the unclonable result among others
    const results = await Promise.allSettled([worker.process(1), worker.process('fn'), worker.process({ a: 2 })])
    expect(results[0]).toEqual({ status: 'fulfilled', value: 1 })
    expect(results[1].status).toBe('rejected')
    const reason = (results[1] as PromiseRejectedResult).reason as { code: string, message: string }
    expect(reason.code).toBe(ERR_NOT_SERIALIZABLE)
    expect(reason.message).toMatch(/result cannot be sent back from the worker/)
    expect(results[2]).toEqual({ status: 'fulfilled', value: { a: 2 } })
    // later items still run on the same worker
    expect(await worker.process(3)).toBe(3)
    expect(worker.alive).toBe(true)
  } finally {
    await worker.kill()
    await rm(dir, { recursive: true, force: true })
  }
}, 20_000)

it('sendOutputs: a batch that cannot be cloned goes again one by one, in order; an unclonable progress value is dropped', () => {
  const sent: WorkerOutput[][] = []
  // what process.send does with serialization 'advanced': clone (or throw) at once
  const send = (outputs: WorkerOutput[]): void => { serialize(outputs); sent.push(outputs) }
  sendOutputs([{ id: 0, value: 'a' }, { id: 1, value: Symbol('s') }, { id: 2, notice: 'progress', value: () => {} }, { id: 2, value: 'c' }], send)
  expect(sent.map(batch => batch.map(o => o.id))).toEqual([[0], [1], [2]])
  expect(sent[1]![0]).toMatchObject({ id: 1, error: { name: 'NotSerializableError', code: ERR_NOT_SERIALIZABLE } })
  sendOutputs([{ id: 3, value: 'd' }, { id: 4, value: 'e' }], send)
  expect(sent.at(-1)).toEqual([{ id: 3, value: 'd' }, { id: 4, value: 'e' }])
})
