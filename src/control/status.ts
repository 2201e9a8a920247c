import * as v from 'valibot'
import type { Libp2p, AbortOptions, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream, requestJson } from '../transport/json-stream.ts'
import { memberEntrySchema } from '../membership/schema.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'

export const STATUS_PROTOCOL = '/gridd/status/1.0.0'

/** A member-table row as sent over the wire (`Member`). */
export const memberViewSchema = v.object({ ...memberEntrySchema.entries, lastSeenMs: v.pipe(v.number(), v.finite(), v.minValue(0)) })

export const statusReportSchema = v.object({
  self: memberViewSchema,
  members: v.pipe(v.array(memberViewSchema), v.maxLength(10_000))
})

export type StatusReport = v.InferOutput<typeof statusReportSchema>

/** `all`: also the members dropped from the live table (left a while ago); older nodes ignore it. */
export const statusRequestSchema = v.object({ all: v.optional(v.boolean()) })

export type StatusRequest = v.InferOutput<typeof statusRequestSchema>

/** The handler of STATUS_PROTOCOL: this node's view of the grid for any authenticated peer (CLI clients use it); a bad request is counted in `rejections`. */
export function statusHandler (report: (request: StatusRequest) => StatusReport, rejections: Rejections): StreamHandler {
  return async (stream, connection) => {
    const json = new JsonStream(stream)
    try {
      const request = await json.read(statusRequestSchema, { signal: AbortSignal.timeout(5000) })
      await json.write(report(request))
      await json.close()
    } catch (err) {
      rejections.reject(STATUS_PROTOCOL, streamFailure(err), connection.remotePeer.toString(), 'dropped a status request', String(err), { err })
      stream.abort(err as Error)
    }
  }
}

/** Asks the node at `target` for its status report (`all`: remembered members too). */
export async function fetchStatus (libp2p: Libp2p, target: Multiaddr, options: AbortOptions & StatusRequest = {}): Promise<StatusReport> {
  const { all, ...rest } = options
  return await requestJson(libp2p, target, STATUS_PROTOCOL, all === true ? { all } : {}, statusReportSchema, rest)
}
