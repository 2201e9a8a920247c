/**
 * Stub components for pipeline unit tests (js-libp2p style): a fake worker
 * implementing the owner's WorkerHandle interface, driven by the test, and a
 * downstream link whose room the test sets. Nothing of the class under test
 * is mocked.
 */
import { pino } from 'pino'
import type { WorkerHandle } from '../../../src/owner/worker-handle.ts'
import type { WorkerExit } from '../../../src/worker/ipc.ts'
import type { Downstream } from '../../../src/pipeline/downstream.ts'
import type { Envelope } from '../../../src/pipeline/types.ts'
import { AgentLostError, WorkerExitedError, WorkerStoppedError } from '../../../src/errors.ts'
import { toWireError, workerExitedError } from '../../../src/wire/wire-error.ts'
import type { WireError } from '../../../src/wire/wire-error.ts'

export const silent = pino({ level: 'silent' })

interface Call { item: unknown, resolve: (v: unknown) => void, reject: (e: Error) => void }

/** How a fake worker answers an item: a value, a thrown error, or 'hold' (the test settles it). */
export type Behaviour = (item: unknown) => unknown

let nextId = 0

export class FakeWorker implements WorkerHandle {
  readonly id = `w${++nextId}`
  readonly agentId: string
  readonly pid = 1000 + nextId
  readonly stage: string
  readonly exited: Promise<WorkerExit>
  /** Items it holds, oldest first (only with a 'hold' behaviour). */
  readonly held: Call[] = []
  readonly seen: unknown[] = []
  killed?: { graceful?: boolean }
  behaviour: Behaviour
  private finish: (exit: WorkerExit) => void = () => {}
  private ended = false

  constructor (stage: string, behaviour: Behaviour = item => item, agentId = 'agent-1') {
    this.stage = stage
    this.behaviour = behaviour
    this.agentId = agentId
    this.exited = new Promise(resolve => { this.finish = resolve })
  }

  async process (item: unknown): Promise<unknown> {
    if (this.ended) throw new WorkerExitedError(this.id, 'already exited')
    this.seen.push(item)
    const answer = this.behaviour(item)
    if (answer !== 'hold') return answer
    return await new Promise((resolve, reject) => { this.held.push({ item, resolve, reject }) })
  }

  async kill (options: { graceful?: boolean } = {}): Promise<WorkerExit> {
    this.killed = options
    this.end({ code: 0, signal: null })
    return await this.exited
  }

  /** Resolves the oldest held item with `value` (default: the item itself). */
  release (value?: unknown): void {
    const call = this.held.shift()!
    call.resolve(value === undefined ? call.item : value)
  }

  /**
   * The child process dies: held items reject with WorkerExitedError, then `exited` resolves (as LocalWorker
   * does); `error`: the uncaught error the stage died of (its code is the stage's choice).
   */
  crash (detail = 'code 1', error?: WireError): void {
    const err = new WorkerExitedError(this.id, detail)
    for (const call of this.held.splice(0)) call.reject(err)
    this.end({ code: 1, signal: null, error })
  }

  /** Ends before its stage's setup was done (its agent says so): held items reject with StageSetupError, as LocalWorker's. */
  failSetup (error?: WireError): void {
    const exit: WorkerExit = { code: 1, signal: null, error, setupFailed: true }
    const err = workerExitedError(this.id, exit)
    for (const call of this.held.splice(0)) call.reject(err)
    this.end(exit)
  }

  /** Its agent is lost: held items reject with AgentLostError, then `exited` resolves (as RemoteWorker does). */
  lose (): void {
    const err = new AgentLostError(this.agentId, 'it failed')
    for (const call of this.held.splice(0)) call.reject(err)
    this.end({ code: null, signal: null, error: toWireError(err), agentLost: true })
  }

  /** Its agent stops it (the agent stopping, an admin's kill): `exited` says so, then held items reject with WorkerStoppedError (as LocalWorker does). */
  stop (): void {
    this.end({ code: 0, signal: null, stopped: true })
    const err = new WorkerStoppedError(this.id, 'by its agent')
    for (const call of this.held.splice(0)) call.reject(err)
  }

  /** Ends without settling what it holds (a misbehaving handle): the stage must not wait for them. */
  vanish (exit: WorkerExit = { code: null, signal: 'SIGKILL' }): void {
    this.end(exit)
  }

  private end (exit: WorkerExit): void {
    if (this.ended) return
    this.ended = true
    this.finish(exit)
  }
}

/** A downstream link whose room the test sets; it records what it accepted. */
export class FakeDownstream implements Downstream {
  readonly accepted: Envelope[] = []
  free = Number.POSITIVE_INFINITY
  private waiters: Array<() => void> = []

  room (): number {
    return this.free - this.accepted.length
  }

  accept (items: Envelope[]): void {
    this.accepted.push(...items)
  }

  onRoomFreed (wake: () => void): void {
    this.waiters.push(wake)
  }

  get waiting (): number {
    return this.waiters.length
  }

  /** Takes every accepted item away and wakes whoever waited. */
  drain (): Envelope[] {
    const taken = this.accepted.splice(0)
    for (const wake of this.waiters.splice(0)) wake()
    return taken
  }
}

export function envelopes (...values: unknown[]): Envelope[] {
  return values.map((value, i) => ({ id: String(i + 1), value, attempts: 0, crashes: 0 }))
}

const realSetImmediate = setImmediate

/** Lets promise callbacks (settlements, `exited` handlers) run; real even under fake timers. */
export async function flush (): Promise<void> {
  await new Promise(resolve => realSetImmediate(resolve))
}

/** Unhandled rejections while `body` runs (one ends the owner's process). */
export async function unhandledDuring (body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const onUnhandled = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  try {
    await body()
    await flush()
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  return seen
}
