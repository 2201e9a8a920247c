import { checkKnownKeys, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { channelCount, positiveInteger, positiveNumber, syncMessageBytes, timerMs } from '../checks/values.ts'
import { ConfigError } from '../errors.ts'
import type { ChannelsInit } from './channels.ts'
import { CHANNEL_DEFAULTS } from './defaults.ts'

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
