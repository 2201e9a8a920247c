import type { WorkerHandle, ProcessOptions } from '../../../src/owner/worker-handle.ts'
import type { WorkerExit } from '../../../src/worker/ipc.ts'
import { WorkerExitedError } from '../../../src/errors.ts'

/**
 * A worker that does what each input says: `{ kind: 'ok' }` returns at once,
 * `'fail'` throws, `'run'` starts (reports it) and runs until its signal
 * aborts, `'hold'` stays dispatched (never reports a start) until its signal
 * aborts, `'deaf'` stays dispatched and ignores its signal, `'lost'` dies under
 * the task the first time it sees it, `'late'` stays dispatched until its signal aborts, then reports its
 * start (it began as the abort came) and throws its own RangeError (`late: 'cancel'`: the abort's reason);
 * `crash()` ends it under whatever it holds.
 */
export class ScriptedWorker implements WorkerHandle {
  static count = 0
  static lostSeen = new Set<unknown>()
  readonly id = `w-${String(ScriptedWorker.count++).padStart(12, '0')}`
  readonly agentId = 'agent'
  readonly pid = 1
  readonly stage = 'task:scripted'
  readonly exited: Promise<WorkerExit>
  private die: (exit: WorkerExit) => void = () => {}
  private readonly pending = new Set<(err: Error) => void>()

  constructor () { this.exited = new Promise(resolve => { this.die = resolve }) }

  async process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    const { kind, id, late } = item as { kind: string, id?: unknown, late?: 'own' | 'cancel' }
    if (kind === 'ok') return 'ok'
    if (kind === 'fail') throw new RangeError('no good')
    if (kind === 'lost' && !ScriptedWorker.lostSeen.has(id)) {
      ScriptedWorker.lostSeen.add(id)
      this.die({ code: null, signal: 'SIGKILL' })
      throw new WorkerExitedError(this.id, 'killed under its task')
    }
    if (kind === 'lost') return 'ok on the second attempt'
    if (kind === 'run') options.onStart?.()
    return await new Promise((_resolve, reject) => {
      this.pending.add(reject)
      if (kind !== 'deaf') {
        options.signal?.addEventListener('abort', () => {
          this.pending.delete(reject)
          if (kind === 'late') options.onStart?.()
          reject(kind === 'late' && late !== 'cancel' ? new RangeError('its own error') : options.signal!.reason as Error)
        })
      }
    })
  }

  /** Dies as a SIGKILL from outside would: everything it holds fails with WorkerExitedError. */
  crash (): void {
    this.die({ code: null, signal: 'SIGKILL' })
    for (const reject of this.pending) reject(new WorkerExitedError(this.id, 'killed under its tasks'))
    this.pending.clear()
  }

  async kill (): Promise<WorkerExit> {
    const exit = { code: 0, signal: null }
    this.die(exit)
    return exit
  }
}
