import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalWorker } from '../../../src/agent/local-worker.ts'
import type { ItemListener } from '../../../src/wire/pending-item.ts'
import type { ToWorker } from '../../../src/worker/ipc.ts'

/** A child process that records what the agent sends it: the test plays the worker's side. */
class FakeChild extends EventEmitter {
  connected = true
  readonly sent: ToWorker[] = []
  send (message: ToWorker, callback?: () => void): boolean {
    this.sent.push(message)
    callback?.()
    return true
  }

  kill (): boolean { return true }
}

const WORKER_HOST = fileURLToPath(new URL('../../../src/cli/worker-host.ts', import.meta.url))

const listener = (): ItemListener => ({ started: () => {}, progress: () => {}, log: () => {}, done: () => {}, failed: () => {} })

it('a task cancelled while its worker still runs setup (submitted before ready, as a remote requester does) has its cancel reach the worker', async () => {
  const child = new FakeChild()
  const worker = new LocalWorker(child as unknown as ChildProcess, { id: 'w-000000000001', stage: 's', pid: 1, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000001', stage: 's', modulePath: '/x.mjs', env: {}, concurrency: 1, watchdog: false })
  const task = listener()
  // the agent relays a requester's task at once, while the stage's setup still runs, then its cancel
  worker.submit('item', task, true)
  worker.cancel(task)
  child.emit('message', { type: 'ready' })
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  const batch = child.sent.find(m => m.type === 'batch')
  expect(batch).toEqual({ type: 'batch', items: [{ id: 0, item: 'item', task: true }] })
  // the cancel follows the item, so the worker aborts it (it never starts if it is still waiting there)
  expect(child.sent.slice(child.sent.indexOf(batch!) + 1)).toEqual([{ type: 'cancel', ids: [0] }])
})

it('with a real worker host: a task submitted and cancelled during setup ends cancelled, never run to its end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-cancel-setup-'))
  const file = join(dir, 'stage.mjs')
  // setup takes a while; the task waits 5 s unless its signal is aborted
  await writeFile(file, `export default {
  async setup () { await new Promise(resolve => setTimeout(resolve, 300)) },
  async process (item, ctx) {
    await new Promise(resolve => { const t = setTimeout(resolve, 5000); ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }) })
    if (ctx.signal.aborted) throw ctx.signal.reason
    return 'ran to its end'
  }
}
`)
  const child = fork(WORKER_HOST, ['w-000000000002', 'slow-setup'], { serialization: 'advanced', stdio: 'ignore' })
  const worker = new LocalWorker(child, { id: 'w-000000000002', stage: 'slow-setup', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000002', stage: 'slow-setup', modulePath: file, env: {}, concurrency: 1, watchdog: false })
  try {
    let settle: (outcome: unknown) => void = () => {}
    const outcome = new Promise<unknown>(resolve => { settle = resolve })
    const task: ItemListener = { ...listener(), done: value => { settle(value) }, failed: err => { settle(err) } }
    const started = Date.now()
    worker.submit('x', task, true)
    worker.cancel(task)
    expect(await outcome).toMatchObject({ code: 'ERR_TASK_CANCELLED' })
    expect(Date.now() - started).toBeLessThan(4000)
  } finally {
    await worker.kill()
    await rm(dir, { recursive: true, force: true })
  }
}, 20_000)
