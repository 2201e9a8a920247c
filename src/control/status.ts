import * as v from 'valibot'
import type { Libp2p, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream, requestJson } from '../transport/json-stream.ts'
import { memberEntrySchema } from '../membership/schema.ts'
import type { Logger } from '../logger.ts'

export const STATUS_PROTOCOL = '/gridd/status/1.0.0'

/** A member-table row as sent over the wire (`Member`). */
export const memberViewSchema = v.object({ ...memberEntrySchema.entries, lastSeenMs: v.pipe(v.number(), v.finite(), v.minValue(0)) })

export const statusReportSchema = v.object({
  self: memberViewSchema,
  members: v.pipe(v.array(memberViewSchema), v.maxLength(10_000))
})

export type StatusReport = v.InferOutput<typeof statusReportSchema>

/** Serves this node's view of the grid to any authenticated peer (CLI clients use it). */
export async function handleStatus (libp2p: Libp2p, report: () => StatusReport, log: Logger): Promise<void> {
  await libp2p.handle(STATUS_PROTOCOL, async (stream) => {
    const json = new JsonStream(stream)
    try {
      await json.read(v.object({}), { signal: AbortSignal.timeout(5000) })
      await json.write(report())
      await json.close()
    } catch (err) {
      log.debug({ err }, 'status request failed')
      stream.abort(err as Error)
    }
  })
}

/** Asks the node at `target` for its status report. */
export async function fetchStatus (libp2p: Libp2p, target: Multiaddr, options: AbortOptions = {}): Promise<StatusReport> {
  return await requestJson(libp2p, target, STATUS_PROTOCOL, {}, statusReportSchema, options)
}
