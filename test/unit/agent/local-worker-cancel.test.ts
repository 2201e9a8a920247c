import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import type { ChildProcess } from 'node:child_process'
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
