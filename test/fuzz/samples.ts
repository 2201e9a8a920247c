import { createHash } from 'node:crypto'
import type { Json } from './mutate.ts'
import type { Rng } from './rng.ts'
import type { Corpus } from './corpus.ts'

/** Keys the fuzzer writes with valid signatures: few, so it never reaches a channel's key cap. */
export const FUZZ_KEYS = Array.from({ length: 16 }, (_, i) => `fz-${i}`)
/** Channels the fuzzer writes to or asks about; the check channel is among them (only forged writes go there). */
export const FUZZ_CHANNELS = ['fuzz-target', 'fuzz-check', 'fz-other']
/** A stage module the fuzzer ships to the agent (its sha256 must match, or the agent refuses it). */
export const SHIPPED_SOURCE = 'export default function identity (item) { return item }\n'
export const SHIPPED_SHA256 = createHash('sha256').update(SHIPPED_SOURCE).digest('hex')

/** A plausible member entry about `id` (what a heartbeat or a member-sync row carries). */
export function memberEntry (id: string, state = 'alive', addresses: string[] = ['/ip4/127.0.0.1/tcp/1']): Json {
  return {
    id,
    addresses,
    state,
    incarnation: Date.now(),
    role: 'member',
    capacity: { cpu: 1, memoryMb: 1024 },
    load: { cpu: 0, memoryFreeMb: 512, workers: 0, maxWorkers: 0, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
    weight: 1,
    strategy: 'horizontal'
  }
}

/** The fuzzer's own heartbeat (a member speaking for itself), or a captured one of another node. */
export function heartbeat (rng: Rng, corpus: Corpus, self: string, seq: number, addresses: string[]): Json {
  if (rng.chance(0.3)) return corpus.pick(rng, 'heartbeat', () => ownHeartbeat(self, seq, addresses))
  return ownHeartbeat(self, seq, addresses)
}

/** The fuzzer's own heartbeat, with its real addresses: nodes then dial it, and ask it for syncs it answers mutated. */
function ownHeartbeat (self: string, seq: number, addresses: string[]): Json {
  return { v: 1, seq, member: memberEntry(self, 'alive', addresses), suspects: [], hears: [] }
}

export function memberSync (rng: Rng, corpus: Corpus, ids: readonly string[]): Json {
  const members = Array.from({ length: 1 + rng.int(3) }, () => corpus.pick(rng, 'member', () => memberEntry(rng.pick(ids))))
  return { v: 1, members }
}

/** An unsigned channel write (the caller signs it, or not). */
export function channelEntry (rng: Rng, corpus: Corpus, origin: string): Json {
  if (rng.chance(0.3)) return corpus.pick(rng, 'channel-entry', () => channelEntry(rng, corpus, origin))
  return { key: rng.pick(FUZZ_KEYS), value: rng.pick<Json>([1, 'v', { a: [1, 2] }, null, 'x'.repeat(1000)]), deleted: false, t: Date.now(), c: 0, origin }
}

export function channelClient (rng: Rng): Json {
  const channel = rng.pick(FUZZ_CHANNELS)
  switch (rng.int(4)) {
    case 0: return { op: 'get', channel, key: rng.pick(FUZZ_KEYS) }
    case 1: return { op: 'set', channel: 'fuzz-target', key: rng.pick(FUZZ_KEYS), value: rng.int(1000) }
    case 2: return { op: 'del', channel: 'fuzz-target', key: rng.pick(FUZZ_KEYS) }
    default: return { op: 'list', channel }
  }
}

export function control (rng: Rng): Json {
  // a valid request changes the node's placement: the fuzzer sends only the neutral values
  return rng.chance(0.5) ? { op: 'set-weight', weight: 1 } : { op: 'set-strategy', strategy: 'horizontal' }
}

export function status (rng: Rng): Json {
  return rng.chance(0.5) ? {} : { all: true }
}

export function spawn (rng: Rng, corpus: Corpus): Json {
  switch (rng.int(4)) {
    case 0: return { op: 'list' }
    case 1: return { op: 'kill', id: corpus.pick(rng, 'forged-worker-id', () => `w-${rng.int(2 ** 24).toString(16).padStart(12, '0')}`), graceful: rng.chance(0.5) }
    // the agent does not have this module: it answers ERR_MODULE_MISSING without forking
    case 2: return { op: 'spawn', stage: 'fuzz', module: { path: '/fuzz/stage.mjs', sha256: createHash('sha256').update(String(rng.next())).digest('hex') }, resources: { cpu: 0, memoryMb: 0 } }
    default: return { op: 'spawn', stage: 'fuzz', module: { path: '/fuzz/stage.mjs', sha256: SHIPPED_SHA256 }, resources: { cpu: 0.1, memoryMb: 64 } }
  }
}

export function workerBatch (rng: Rng): Json {
  return { type: 'batch', items: Array.from({ length: 1 + rng.int(8) }, (_, i) => ({ n: i, item: rng.int(1000) })) }
}
