import type { LocalWorker } from '../agent/local-worker.ts'
import type { WorkerHandle } from './worker-handle.ts'

/** A worker spawned on this very node: items go over IPC, no network hop. */
export function localHandle (worker: LocalWorker, agentId: string): WorkerHandle {
  return {
    id: worker.info.id,
    agentId,
    pid: worker.info.pid,
    stage: worker.info.stage,
    process: async (item, options) => await worker.process(item, options),
    submit: (item, listener, task) => { worker.submit(item, listener, task) },
    cancel: listener => { worker.cancel(listener) },
    kill: async (options) => await worker.kill(options),
    exited: worker.exited
  }
}
