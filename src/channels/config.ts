import { checkKnownKeys, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { channelCount, positiveInteger, positiveNumber, syncMessageBytes, timerMs } from '../checks/values.ts'
import { ConfigError } from '../errors.ts'
import { CHANNEL_DEFAULTS } from './defaults.ts'

/** `GridNode.start({ channels })`: the channels' limits and timings (here, apart from the libp2p side, so the public types need none of it). */
export interface ChannelsInit {
  /** Largest serialized value. Default 64 KiB. */
  maxValueBytes?: number
  /** Tombstones held longer than this are dropped: by this node's monotonic clock, from when it learned of each (never the writer's stamp). Default 10 min. */
  tombstoneTtlMs?: number
  /** Anti-entropy: every this often, each channel compares digests with one random member that has it open. Default 10 s. */
  syncIntervalMs?: number
  /** Channels open at once on this node for the app, add-ons and `grid channel set|del` (reads open theirs apart, CLIENT_READ_CHANNELS at most). Default 256. */
  maxChannels?: number
  /** Keys per channel, tombstones included, for this node's writes (other members' are taken up to twice it). Default 65,536. */
  maxKeysPerChannel?: number
  /** Bytes per channel (keys, values and ~256 bytes of bookkeeping per key), for this node's writes (other members' are taken up to twice it). Default 64 MiB. */
  maxChannelBytes?: number
  /** Largest snapshot-exchange message: larger snapshots stream in several. Default 4 MiB; at least maxValueBytes + 4 KiB. */
  syncMessageBytes?: number
}

/** Room in a sync message beyond one value: key, stamp, signature, envelope. */
const SYNC_MESSAGE_SLACK_BYTES = 4096

const CHANNELS_KEYS: KnownKeys<ChannelsInit> = {
  maxValueBytes: true, tombstoneTtlMs: true, syncIntervalMs: true, maxChannels: true, maxKeysPerChannel: true, maxChannelBytes: true, syncMessageBytes: true
}

/** Checks the `channels` options; absent ones keep their defaults (set by Channels). */
export function resolveChannelsConfig (init: ChannelsInit): ChannelsInit {
  checkKnownKeys('channels', init, CHANNELS_KEYS)
  const config: ChannelsInit = {
    maxValueBytes: checkOptional('channels.maxValueBytes', positiveNumber, init.maxValueBytes),
    tombstoneTtlMs: checkOptional('channels.tombstoneTtlMs', positiveNumber, init.tombstoneTtlMs),
    syncIntervalMs: checkOptional('channels.syncIntervalMs', timerMs, init.syncIntervalMs),
    maxChannels: checkOptional('channels.maxChannels', channelCount, init.maxChannels),
    maxKeysPerChannel: checkOptional('channels.maxKeysPerChannel', positiveInteger, init.maxKeysPerChannel),
    maxChannelBytes: checkOptional('channels.maxChannelBytes', positiveInteger, init.maxChannelBytes),
    syncMessageBytes: checkOptional('channels.syncMessageBytes', syncMessageBytes, init.syncMessageBytes)
  }
  const value = config.maxValueBytes ?? CHANNEL_DEFAULTS.maxValueBytes
  const message = config.syncMessageBytes ?? CHANNEL_DEFAULTS.syncMessageBytes
  // a value that fits no sync message could never reach a late joiner
  if (message < value + SYNC_MESSAGE_SLACK_BYTES) throw new ConfigError('channels.syncMessageBytes', `must be at least channels.maxValueBytes + ${SYNC_MESSAGE_SLACK_BYTES} (${value + SYNC_MESSAGE_SLACK_BYTES}), got ${message}`)
  return config
}
