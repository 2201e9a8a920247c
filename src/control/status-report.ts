import * as v from 'valibot'
import { memberEntrySchema } from '../membership/schema.ts'
import { MAX_MEMBERS_LIMIT } from '../membership/constants.ts'

/*
 * What `node.status()` and `grid status` report, apart from the protocol that carries it (status.ts):
 * the public types import nothing of libp2p, whose declarations need the DOM's types (README, Embedding).
 */

/**
 * Rows a report may carry: the largest member table a node may be configured for,
 * plus the members it remembers after they left it (`--all`: membership keeps 1000).
 */
export const MAX_STATUS_MEMBERS = MAX_MEMBERS_LIMIT + 1024
/** What a row may take on average as JSON: ~550 bytes with a few addresses, so room for many more. */
const MAX_STATUS_ROW_BYTES = 2048
/** A report of every row a node may hold: far above the 1 MiB of other control messages, which ~1,900 rows filled. */
export const MAX_STATUS_REPLY_BYTES = (MAX_STATUS_MEMBERS + 1) * MAX_STATUS_ROW_BYTES

/** A member-table row as sent over the wire (`Member`). */
export const memberViewSchema = v.object({ ...memberEntrySchema.entries, lastSeenMs: v.pipe(v.number(), v.finite(), v.minValue(0)) })

export const statusReportSchema = v.object({
  self: memberViewSchema,
  members: v.pipe(v.array(memberViewSchema), v.maxLength(MAX_STATUS_MEMBERS))
})

export type StatusReport = v.InferOutput<typeof statusReportSchema>

/** `all`: also the members dropped from the live table (left a while ago); older nodes ignore it. */
export const statusRequestSchema = v.object({ all: v.optional(v.boolean()) })

export type StatusRequest = v.InferOutput<typeof statusRequestSchema>
