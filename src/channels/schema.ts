import * as v from 'valibot'
import { peerId } from '../checks/values.ts'
import { MAX_COUNTER } from './hlc.ts'

export const CHANNEL_NAME = /^[a-zA-Z0-9._-]{1,64}$/
export const MAX_KEY_LENGTH = 256
export const topicOf = (channel: string): string => `gridd/channel/${channel}`
/** 2.0.0: writes are signed and snapshots come in chunks. */
export const SYNC_PROTOCOL = '/gridd/channel/sync/2.0.0'
/** The label of channel gossip in the rejected-message counter (one label for every channel topic). */
export const GOSSIP_LABEL = 'gridd/channel'
export const CLIENT_PROTOCOL = '/gridd/channel/1.0.0'

const stampFields = {
  t: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  c: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_COUNTER)),
  /** The writer: every write carries its signature, so any member may relay it. */
  origin: peerId,
  /** Ed25519 signature (base64) of the origin over signedBytes(channel, entry); a write without one is dropped at merge. */
  sig: v.optional(v.pipe(v.string(), v.maxLength(128)))
}

export const entrySchema = v.pipe(
  v.object({
    key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)),
    value: v.optional(v.unknown()),
    deleted: v.boolean(),
    ...stampFields,
    /** A tombstone in a snapshot: for how long its sender has held it (store.ts); absent from gossip and from nodes of earlier releases. */
    heldMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)))
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
const entries = v.array(entrySchema)

/**
 * Snapshot exchange on one stream: the asker sends its digest; the other side
 * answers with its whole snapshot (tombstones included) unless the digests
 * match or it does not have the channel open; then, only if a snapshot came,
 * the asker sends back what the snapshot lacked. Snapshot and delta come in
 * chunks (each one bounded message, `more` until the last), so a channel of
 * any size syncs.
 */
/** `now`: the sender's wall clock (ms), for ClockWatch; absent from nodes of earlier releases. */
const wallNow = v.optional(v.pipe(v.number(), v.finite()))
/**
 * `known`: the answering side's digest after the asker's last exchange with it, sent while the asker's
 * own digest has not changed since; if the answering side's has not either, it answers `settled` (no
 * snapshot): the same exchange again would move nothing (what each refused, it refuses again). Both
 * absent from nodes of earlier releases, which ignore `known` and send their snapshot as before.
 * `closing` in the ask: the asker reads a closing message (syncClosingSchema) after its delta; in the
 * answer: one will come. Absent from nodes of earlier releases, which neither send nor read one.
 */
export const syncAskSchema = v.object({ v: v.literal(2), channel: channelName, digest, now: wallNow, known: v.optional(digest), closing: v.optional(v.boolean()) })
export const syncAnswerSchema = v.object({ v: v.literal(2), open: v.boolean(), digest, entries, more: v.boolean(), now: wallNow, settled: v.optional(v.boolean()), closing: v.optional(v.boolean()) })
export const syncChunkSchema = v.object({ v: v.literal(2), entries, more: v.boolean() })
/**
 * The answering side's digest once it merged the asker's delta: what the asker remembers as `known`.
 * Absent when the pair is not to be taken as settled: it refused writes for a stamp ahead of its clock
 * (time lifts that refusal, no digest changes when it does), or writes other than the delta came in
 * during the exchange (the asker may lack them).
 */
export const syncClosingSchema = v.object({ v: v.literal(2), digest: v.optional(digest) })

/** What `grid channel` asks a node. */
export const clientRequestSchema = v.variant('op', [
  v.object({ op: v.literal('get'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)), key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)) }),
  v.object({ op: v.literal('set'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)), key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)), value: v.unknown() }),
  v.object({ op: v.literal('del'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)), key: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_LENGTH)) }),
  v.object({ op: v.literal('list'), channel: v.pipe(v.string(), v.regex(CHANNEL_NAME)) })
])

export type ChannelMessage = v.InferOutput<typeof channelMessageSchema>
export type ClientRequest = v.InferOutput<typeof clientRequestSchema>
