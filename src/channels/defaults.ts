/** Channel limits when the `channels` options leave them out. */
export const CHANNEL_DEFAULTS = {
  maxValueBytes: 64 * 1024,
  maxChannels: 256,
  maxKeysPerChannel: 65_536,
  maxChannelBytes: 64 * 1024 * 1024,
  syncMessageBytes: 4 * 1024 * 1024
} as const
