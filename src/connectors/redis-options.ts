import * as v from 'valibot'
import { checkKnownKeys, checkOption, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { flag, positiveInteger, nonNegativeInteger, timerMs } from '../checks/values.ts'
import type { Logger } from '../logger.ts'

export interface RedisStreamSourceOptions {
  /** `redis://host:port[/db]`. */
  url: string
  stream: string
  /** The consumer group: created (at the stream's start, with the stream if missing) when absent, and again when Redis lost it. */
  group: string
  /** This reader's name in the group: entries it read and did not acknowledge are read again first when a
   * source with the same name starts. Default `<hostname>-<pid>`. Other names idle long with nothing pending are removed from the group. */
  consumer?: string
  /** Entries per read (XREADGROUP COUNT): at most this many are read ahead of the pipeline. Default 128. */
  batch?: number
  /** How long one read waits for new entries. Default 1000 ms. */
  blockMs?: number
  /** Entries another consumer left pending this long are claimed (XAUTOCLAIM): at start, then every
   * `claimIdleMs` while reading. Default 30,000 ms. */
  claimIdleMs?: number
  /** End (the run then finishes) when a read finds no new entry: for a finite backlog. Default false: endless. */
  endWhenEmpty?: boolean
  /** An entry's value larger than this is refused (acknowledged and skipped, with a warning). Default 1 MiB. */
  maxValueBytes?: number
  /** Turns an entry's fields (`[field, value, …]`) into the item. Default: JSON in field `v`, else the fields as an object. */
  decode?: (fields: string[]) => unknown
  /** A read Redis has not answered this long past `blockMs` is logged as a stall (once a minute; it goes on waiting). Default 10,000 ms. */
  stallWarnMs?: number
  /** While Redis is away, reconnection attempts back off from 50 ms to this (plus up to 200 ms of jitter); commands wait meanwhile, however long. Default 5,000 ms. */
  reconnectMaxMs?: number
  log?: Logger
}

export interface RedisStreamSinkOptions {
  /** `redis://host:port[/db]`. */
  url: string
  stream: string
  /** How long an item id is remembered: a replay of it within this time writes nothing. Default 86,400 s. */
  dedupeTtlS?: number
  /** Trims the stream to about this many entries as it appends (XADD MAXLEN ~). Default: no trimming. */
  maxLen?: number
  /** Turns an item's value into the string stored in field `v`. Default JSON.stringify. */
  encode?: (value: unknown) => string
  /** A write Redis has not answered this long is logged as a stall (once a minute; it goes on waiting). Default 10,000 ms. */
  stallWarnMs?: number
  /** As the source's: the longest pause between reconnection attempts. Default 5,000 ms. */
  reconnectMaxMs?: number
  /** Where connection errors and stalls go (once a minute per kind). Default: nowhere. */
  log?: Logger
}

const SOURCE_KEYS: KnownKeys<RedisStreamSourceOptions> = { url: true, stream: true, group: true, consumer: true, batch: true, blockMs: true, claimIdleMs: true, endWhenEmpty: true, maxValueBytes: true, decode: true, stallWarnMs: true, reconnectMaxMs: true, log: true }
const SINK_KEYS: KnownKeys<RedisStreamSinkOptions> = { url: true, stream: true, dedupeTtlS: true, maxLen: true, encode: true, stallWarnMs: true, reconnectMaxMs: true, log: true }

const REDIS_URL = 'must be a redis:// or rediss:// URL'
const redisUrl = v.pipe(v.string(REDIS_URL), v.regex(/^rediss?:\/\/\S*$/, REDIS_URL))
const KEY_RULE = 'must be a non-empty string of at most 1024 characters'
/** A stream, group or consumer name. */
const redisName = v.pipe(v.string(KEY_RULE), v.minLength(1, KEY_RULE), v.maxLength(1024, KEY_RULE))
const fn = v.function('must be a function')
// SET EX refuses anything else, after the script's XADD: the id left unmarked, each retry appended it again
const TTL_RULE = 'must be a whole number of seconds, at least 1'
const ttlSeconds = v.pipe(v.number(TTL_RULE), v.safeInteger(TTL_RULE), v.minValue(1, TTL_RULE))
const MAX_BATCH = 100_000
const batch = v.pipe(positiveInteger, v.maxValue(MAX_BATCH, `must be an integer from 1 to ${MAX_BATCH}`))
// whole ms: Redis refuses fractions for BLOCK and XAUTOCLAIM's min-idle-time
const wholeMs = v.pipe(timerMs, v.integer('must be a whole number of ms'))

/**
 * A source's options, checked at the call (a misspelt `claimIdelMs` would run with the default; `batch: 0`,
 * `blockMs: 0` — Redis's "block for ever" — or a fraction would fail later, inside a run, or hang).
 */
export function checkSourceOptions (options: unknown): asserts options is RedisStreamSourceOptions {
  checkKnownKeys<RedisStreamSourceOptions>('redisStreamSource', options, SOURCE_KEYS)
  checkOption('url', redisUrl, options.url)
  checkOption('stream', redisName, options.stream)
  checkOption('group', redisName, options.group)
  checkOptional('consumer', redisName, options.consumer)
  checkOptional('batch', batch, options.batch)
  checkOptional('blockMs', wholeMs, options.blockMs)
  checkOptional('claimIdleMs', wholeMs, options.claimIdleMs)
  checkOptional('endWhenEmpty', flag, options.endWhenEmpty)
  checkOptional('maxValueBytes', positiveInteger, options.maxValueBytes)
  checkOptional('decode', fn, options.decode)
  checkOptional('stallWarnMs', timerMs, options.stallWarnMs)
  checkOptional('reconnectMaxMs', timerMs, options.reconnectMaxMs)
}

/** A sink's options, checked at the call (as the source's). */
export function checkSinkOptions (options: unknown): asserts options is RedisStreamSinkOptions {
  checkKnownKeys<RedisStreamSinkOptions>('redisStreamSink', options, SINK_KEYS)
  checkOption('url', redisUrl, options.url)
  checkOption('stream', redisName, options.stream)
  checkOptional('dedupeTtlS', ttlSeconds, options.dedupeTtlS)
  checkOptional('maxLen', nonNegativeInteger, options.maxLen)
  checkOptional('encode', fn, options.encode)
  checkOptional('stallWarnMs', timerMs, options.stallWarnMs)
  checkOptional('reconnectMaxMs', timerMs, options.reconnectMaxMs)
}
