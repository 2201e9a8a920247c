/**
 * Stubs of the components an owner's `Workers` and an agent's `AgentService`
 * talk through (js-libp2p style: only the boundary is faked, the code under
 * test runs as it is): an in-memory libp2p whose streams are real connected
 * stream pairs, a fixed membership list, and a spawner whose workers are
 * promises instead of processes.
 */
import type { ItemListener } from '../../../src/wire/pending-item.ts'
import { multiaddrConnectionPair, streamPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, Libp2p, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import { AgentFullError } from '../../../src/errors.ts'
import type { Membership } from '../../../src/membership/membership.ts'
import type { Member } from '../../../src/membership/member.ts'
import type { Spawner, SpawnRequest } from '../../../src/agent/spawner.ts'
import type { WorkerInfo } from '../../../src/agent/local-worker.ts'
import type { WorkerExit } from '../../../src/worker/ipc.ts'
import { entry } from '../membership/helpers.ts'
import type { Overrides } from '../membership/helpers.ts'
import { StageModules } from '../../../src/agent/stage-modules.ts'
import { resolveLogger } from '../../../src/logger.ts'

/** One peer of a FakeNetwork: its libp2p stub, and a switch that holds dials to it (a spawn "in flight"). */
export interface FakePeer {
  id: string
  libp2p: Libp2p
  /** Dials to this peer wait until the returned function is called. */
  hold: () => () => void
  /** Dials to this peer fail (as a refused connection) until the returned function is called. */
  cutOff: () => () => void
}

/** A connected pair of streams: [the dialler's, the target's]. */
export type StreamPair = () => Promise<[Stream, Stream]>

/**
 * A stream pair over real yamux sessions (one per pair) on an in-memory connection: flow control as
 * between nodes, so a side that pauses its stream stops granting window and the other side's writes queue.
 */
export async function yamuxStreamPair (): Promise<[Stream, Stream]> {
  const [outbound, inbound] = multiaddrConnectionPair()
  const client = yamux()().createStreamMuxer(outbound)
  const server = yamux()().createStreamMuxer(inbound)
  const accepted = new Promise<Stream>(resolve => { server.addEventListener('stream', evt => { resolve(evt.detail) }, { once: true }) })
  const dialled = await client.createStream()
  return [dialled, await accepted]
}

/** In-memory peers: `dialProtocol` opens a stream pair and hands the far end to the target's handler. */
export class FakeNetwork {
  private readonly handlers = new Map<string, Map<string, StreamHandler>>()
  private readonly gates = new Map<string, Promise<void>>()
  private readonly cut = new Set<string>()
  private readonly pair: StreamPair

  /** `pair`: how each dial's streams are made (default: @libp2p/utils' streamPair, which has no flow control to speak of). */
  constructor (pair: StreamPair = async () => await streamPair()) {
    this.pair = pair
  }

  async peer (): Promise<FakePeer> {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const id = peerId.toString()
    const handlers = new Map<string, StreamHandler>()
    this.handlers.set(id, handlers)
    const stub: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'dial'> = {
      peerId,
      dial: async (target, options) => {
        await this.gates.get((target as PeerId).toString())
        options?.signal?.throwIfAborted()
        if (this.cut.has((target as PeerId).toString())) throw new Error('connect ECONNREFUSED (fake network)')
        return { remotePeer: target } as unknown as Connection
      },
      handle: async (protocols, handler) => { for (const p of [protocols].flat()) handlers.set(p, handler) },
      unhandle: async (protocols) => { for (const p of [protocols].flat()) handlers.delete(p) },
      dialProtocol: async (target, protocols, options) => {
        const to = (target as PeerId).toString()
        await this.gates.get(to)
        options?.signal?.throwIfAborted()
        const protocol = [protocols].flat()[0] ?? ''
        const handler = this.handlers.get(to)?.get(protocol)
        if (handler == null) throw new Error(`fake network: ${to} does not handle ${protocol}`)
        const [outbound, inbound] = await this.pair()
        void handler(inbound, { remotePeer: peerId } as unknown as Connection)
        return outbound
      }
    }
    const hold = (): (() => void) => {
      let open: () => void = () => {}
      this.gates.set(id, new Promise(resolve => { open = resolve }))
      return () => { this.gates.delete(id); open() }
    }
    const cutOff = (): (() => void) => {
      this.cut.add(id)
      return () => { this.cut.delete(id) }
    }
    // the code under test only calls what the stub has (typecheck of the Pick above)
    return { id, libp2p: stub as unknown as Libp2p, hold, cutOff }
  }
}

/** A membership that lists fixed members; gossip never updates their load (so only reservations count spawns). */
export function fakeMembership (self: Member, members: Member[]): Membership {
  const stub: Pick<Membership, 'selfMember' | 'members' | 'teachAddresses'> = {
    selfMember: () => self,
    members: () => members,
    teachAddresses: async () => {}
  }
  return stub as unknown as Membership
}

export function member (id: string, overrides: Overrides = {}): Member {
  return { ...entry(id, overrides), lastSeenMs: 0 }
}

/** A worker that is a promise, not a process: `process` runs `behave`, `end` makes it exit. */
export class FakeWorker {
  readonly info: WorkerInfo
  readonly exited: Promise<WorkerExit>
  alive = true
  end: (exit?: WorkerExit) => void = () => {}
  private readonly behave: (item: unknown) => Promise<unknown>

  constructor (info: WorkerInfo, behave: (item: unknown) => Promise<unknown>) {
    this.info = info
    this.behave = behave
    this.exited = new Promise(resolve => {
      this.end = (exit = { code: 0, signal: null }) => {
        if (!this.alive) return
        this.alive = false
        resolve(exit)
      }
    })
  }

  async process (item: unknown): Promise<unknown> {
    return await this.behave(item)
  }

  /** As LocalWorker.submit: the outcome goes to the listener. */
  submit (item: unknown, listener: ItemListener): void {
    this.behave(item).then(value => { listener.done(value) }, (err: Error) => { listener.failed(err) })
  }

  cancel (): void {}

  async kill (): Promise<WorkerExit> {
    this.end({ code: null, signal: 'SIGKILL' })
    return await this.exited
  }
}

/** The agent's worker table with a fixed number of slots; refuses like the real one (AgentFullError). */
export class FakeSpawner {
  readonly workers = new Map<string, FakeWorker>()
  refusals = 0
  private next = 0
  private readonly slots: number
  private readonly behave: (item: unknown) => Promise<unknown>

  constructor (slots: number, behave: (item: unknown) => Promise<unknown> = async item => item) {
    this.slots = slots
    this.behave = behave
  }

  spawn (request: SpawnRequest): FakeWorker {
    if (this.workers.size >= this.slots) {
      this.refusals++
      throw new AgentFullError([`workers: ${this.workers.size}/${this.slots} in use`])
    }
    const id = `w-${(this.next++).toString(16).padStart(12, '0')}`
    const worker = new FakeWorker({ id, stage: request.stage, pid: 1000 + this.next, resources: request.resources }, this.behave)
    this.workers.set(id, worker)
    void worker.exited.then(() => { this.workers.delete(id) })
    return worker
  }

  get (id: string): FakeWorker | undefined {
    return this.workers.get(id)
  }

  list (): WorkerInfo[] {
    return [...this.workers.values()].map(w => w.info)
  }

  /** As the AgentService sees it. */
  asSpawner (): Spawner {
    return this as unknown as Spawner
  }
}

/** The agent's real module store on `dataDir` (no module dirs, 256 MB cache), started. */
export async function startedModules (dataDir: string): Promise<StageModules> {
  const modules = new StageModules(dataDir, { moduleDirs: [], moduleCacheMb: 256, cwd: process.cwd() }, resolveLogger())
  await modules.start()
  return modules
}
