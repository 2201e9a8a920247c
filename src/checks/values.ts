import * as v from 'valibot'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'

/*
 * One definition per value. The wire schemas, the `resolve*` config
 * functions, the CLI flags and the run-time setters all use these pieces, so
 * what a node accepts locally is exactly what its peers accept from it.
 * The rule: fractional CPU slots are valid everywhere (`--cpu 1.5`); every
 * bound is the wire's (a weight beyond ±1e6 is refused at the API and the CLI,
 * never dropped by peers). Each piece says its rule in one message.
 * This module imports nothing of gridd: anything may import it.
 */

export const MAX_CPU_SLOTS = 4096
export const MAX_MEMORY_MB = 16 * 1024 * 1024
export const MAX_WORKERS = 4096
export const MAX_CONCURRENCY = 10_000
export const MAX_WEIGHT = 1_000_000
export const MAX_STAGE_NAME_LENGTH = 128
export const MAX_PEER_ID_LENGTH = 128
export const MAX_ADDRESS_LENGTH = 256
export const MAX_ADDRESSES = 32
/** Most members a node's member table may be configured to hold (membership's MAX_MEMBERS_LIMIT). */
export const MAX_MEMBERS = 65_536
export const MAX_CHANNELS = 65_536
/** A snapshot-exchange message: at least one large value fits, at most what one read may buffer. */
export const MAX_SYNC_MESSAGE_BYTES = 256 * 1024 * 1024
export const STRATEGIES = ['horizontal', 'vertical'] as const

/** A finite number in [min, max]; every refusal says `rule`. */
function numberIn (min: number, max: number, rule: string) {
  return v.pipe(v.number(rule), v.finite(rule), v.minValue(min, rule), v.maxValue(max, rule))
}

/** A finite number in (0, max]. */
function aboveZero (max: number, rule: string) {
  return v.pipe(v.number(rule), v.finite(rule), v.gtValue(0, rule), v.maxValue(max, rule))
}

function integerIn (min: number, max: number, rule: string) {
  return v.pipe(v.number(rule), v.integer(rule), v.minValue(min, rule), v.maxValue(max, rule))
}

/** CPU slots a worker asks for: fractions allowed, 0 for a stage that barely uses a core. */
export const cpuSlots = numberIn(0, MAX_CPU_SLOTS, `must be a number of CPU slots from 0 to ${MAX_CPU_SLOTS} (fractions allowed)`)

/** CPU slots a member advertises (an agent's `--cpu`, a member's core count): more than 0, fractions allowed. */
export const cpuCapacity = aboveZero(MAX_CPU_SLOTS, `must be a number of CPU slots above 0, at most ${MAX_CPU_SLOTS} (fractions allowed)`)

/** Memory a worker asks for, MB (0: no limit of its own). */
export const memoryMb = numberIn(0, MAX_MEMORY_MB, `must be a number of MB from 0 to ${MAX_MEMORY_MB}`)

/** Memory a member advertises for workers, MB. */
export const memoryCapacityMb = numberIn(1, MAX_MEMORY_MB, `must be a number of MB from 1 to ${MAX_MEMORY_MB}`)

/** Workers running (on an agent, or of one stage there). */
export const workerCount = integerIn(0, MAX_WORKERS, `must be an integer from 0 to ${MAX_WORKERS}`)

/** Most members a node's member table holds (`maxMembers`). */
export const memberCount = integerIn(1, MAX_MEMBERS, `must be an integer from 1 to ${MAX_MEMBERS}`)

/** Most workers an agent runs at once (`--workers`). */
export const maxWorkers = integerIn(1, MAX_WORKERS, `must be an integer from 1 to ${MAX_WORKERS}`)

/** Items one worker processes at once. */
export const concurrency = integerIn(1, MAX_CONCURRENCY, `must be an integer from 1 to ${MAX_CONCURRENCY}`)

/** Placement weight: larger attracts more work, negative flips the strategy, 0 drains. */
export const weight = numberIn(-MAX_WEIGHT, MAX_WEIGHT, `must be a number from -${MAX_WEIGHT} to ${MAX_WEIGHT}`)

export const strategy = v.picklist(STRATEGIES, `must be "${STRATEGIES.join('" or "')}"`)

export type Strategy = v.InferOutput<typeof strategy>

const STAGE_NAME_RULE = `must be a string of 1 to ${MAX_STAGE_NAME_LENGTH} characters`
/** A pipeline stage's name: in the owner's options, on the spawn protocol, as a key of an agent's gossiped load. */
export const stageName = v.pipe(v.string(STAGE_NAME_RULE), v.minLength(1, STAGE_NAME_RULE), v.maxLength(MAX_STAGE_NAME_LENGTH, STAGE_NAME_RULE))

const PEER_ID_RULE = `must be a peer id (base58btc, at most ${MAX_PEER_ID_LENGTH} characters)`
/**
 * A peer id in its string form (what `peerId.toString()` gives: base58btc) that
 * really parses, so no later `peerIdFromString` of it (in a timer, a dial) can throw.
 */
export const peerId = v.pipe(
  v.string(PEER_ID_RULE),
  v.regex(new RegExp(`^[1-9A-HJ-NP-Za-km-z]{1,${MAX_PEER_ID_LENGTH}}$`), PEER_ID_RULE),
  v.check(isPeerId, PEER_ID_RULE)
)

const ADDRESS_RULE = `must be a multiaddr of at most ${MAX_ADDRESS_LENGTH} characters`
/** One multiaddr as text: it parses, so a peer store merge of it cannot throw. */
export const address = v.pipe(v.string(ADDRESS_RULE), v.maxLength(MAX_ADDRESS_LENGTH, ADDRESS_RULE), v.check(isMultiaddr, ADDRESS_RULE))

/** The addresses a member gossips for itself. */
const ADDRESSES_RULE = `must be a list of at most ${MAX_ADDRESSES} multiaddrs`
export const addresses = v.pipe(v.array(address, ADDRESSES_RULE), v.maxLength(MAX_ADDRESSES, ADDRESSES_RULE))

/** A TCP port to listen on (0 picks a free one): a number, never the string a JS caller may pass from an env var. */
export const listenPort = integerIn(0, 65535, 'must be an integer port from 0 to 65535 (0 picks a free one)')

/** Durations, intervals, sizes: finite and above 0. */
export const positiveNumber = aboveZero(Number.MAX_VALUE, 'must be a positive number')

function isPeerId (text: string): boolean {
  // a failed regex does not stop the pipe, and base58 decoding is quadratic: a 64 KB id would block the event loop for seconds
  if (text.length > MAX_PEER_ID_LENGTH) return false
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}

function isMultiaddr (text: string): boolean {
  // as for peer ids: the length rule before it does not stop the pipe
  if (text.length > MAX_ADDRESS_LENGTH || !text.startsWith('/')) return false
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}

/** A count or size of at least 1 (windows, queue sizes, attempts). */
export const positiveInteger = integerIn(1, Number.MAX_SAFE_INTEGER, 'must be an integer >= 1')

/** Channels a node keeps open at once. */
export const channelCount = integerIn(1, MAX_CHANNELS, `must be an integer from 1 to ${MAX_CHANNELS}`)

/** A snapshot-exchange message size in bytes. */
export const syncMessageBytes = integerIn(4096, MAX_SYNC_MESSAGE_BYTES, `must be an integer number of bytes from 4096 to ${MAX_SYNC_MESSAGE_BYTES}`)

/** A count that may be 0 (minWorkers). */
export const nonNegativeInteger = integerIn(0, Number.MAX_SAFE_INTEGER, 'must be an integer >= 0')

export const MAX_TASK_PRIORITY = 1_000_000
export const MAX_TASK_RETRIES = 100
/** Longest a timer can wait (setTimeout's limit). */
export const MAX_TIMEOUT_MS = 2_147_483_647

/** A timer's delay or period: above the timer's limit Node waits 1 ms instead (a TimeoutOverflowWarning), so it is refused. */
export const timerMs = aboveZero(MAX_TIMEOUT_MS, `must be a number of ms above 0, at most ${MAX_TIMEOUT_MS} (the longest a timer waits)`)

/** A task's priority: higher runs first. */
export const taskPriority = integerIn(-MAX_TASK_PRIORITY, MAX_TASK_PRIORITY, `must be an integer from -${MAX_TASK_PRIORITY} to ${MAX_TASK_PRIORITY}`)

/** Attempts after a task's worker or agent was lost. */
export const taskRetries = integerIn(0, MAX_TASK_RETRIES, `must be an integer from 0 to ${MAX_TASK_RETRIES}`)

/** Longest one task attempt may run, ms. */
export const taskTimeoutMs = integerIn(1, MAX_TIMEOUT_MS, `must be an integer number of ms from 1 to ${MAX_TIMEOUT_MS}`)

/** An option that cancels: what `{ signal }` takes (a JS caller's `{}` would fail only once listened to). */
export const abortSignal = v.instance(AbortSignal, 'must be an AbortSignal')

/** An on/off option. */
export const flag = v.boolean('must be true or false')
