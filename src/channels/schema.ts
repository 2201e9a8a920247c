import * as v from 'valibot'
import { peerId } from '../checks/values.ts'

export const CHANNEL_NAME = /^[a-zA-Z0-9._-]{1,64}$/
export const MAX_KEY_LENGTH = 256
export const topicOf = (channel: string): string => `gridd/channel/${channel}`
export const SYNC_PROTOCOL = '/gridd/channel/sync/1.0.0'
export const CLIENT_PROTOCOL = '/gridd/channel/1.0.0'

const stampFields = {
  t: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  c: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  /** The writer: channels refuse writes not authored by the peer that sends them. */
  origin: peerId
}

export const entrySchema = v.pipe(
  v.object({
    key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)),
    value: v.optional(v.unknown()),
    deleted: v.boolean(),
    ...stampFields
  }),
  // JSON has no undefined: a write without a value would be a key that is there and is not
  v.check(e => e.deleted || e.value !== undefined, 'a write that is not a delete needs a value')
)

/** Gossip on `gridd/channel/<name>`: one write (or a few) of one channel. */
export const channelMessageSchema = v.object({
  v: v.literal(1),
  channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)),
  entries: v.pipe(v.array(entrySchema), v.minLength(1), v.maxLength(64))
})

const channelName = v.pipe(v.string(), v.regex(CHANNEL_NAME))
const digest = v.pipe(v.string(), v.maxLength(64))
const entries = v.pipe(v.array(entrySchema), v.maxLength(1_000_000))

/**
 * Snapshot exchange, three messages on one stream: the asker sends its digest;
 * the other side answers with its whole snapshot (tombstones included) unless
 * the digests match or it does not have the channel open; then, only if a
 * snapshot came, the asker sends back what the snapshot lacked.
 */
export const syncAskSchema = v.object({ v: v.literal(1), channel: channelName, digest })
export const syncAnswerSchema = v.object({ v: v.literal(1), open: v.boolean(), digest, entries })
export const syncDeltaSchema = v.object({ v: v.literal(1), entries })

/** What `grid channel` asks a node. */
export const clientRequestSchema = v.variant('op', [
  v.object({ op: v.literal('get'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)), key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)) }),
  v.object({ op: v.literal('set'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)), key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)), value: v.unknown() }),
  v.object({ op: v.literal('del'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)), key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)) }),
  v.object({ op: v.literal('list'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)) })
])

export type ChannelMessage = v.InferOutput<typeof channelMessageSchema>
export type ClientRequest = v.InferOutput<typeof clientRequestSchema>
