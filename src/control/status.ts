import { z } from 'zod'
import type { Libp2p, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream, requestJson } from '../transport/json-stream.ts'
import { memberEntrySchema } from '../membership/schema.ts'
import type { Logger } from '../logger.ts'

export const STATUS_PROTOCOL = '/gridd/status/1.0.0'

/** A member-table row as sent over the wire (`Member`). */
export const memberViewSchema = memberEntrySchema.extend({ lastSeenMs: z.number().finite().min(0) })

export const statusReportSchema = z.object({
  self: memberViewSchema,
  members: z.array(memberViewSchema).max(10_000)
})

export type StatusReport = z.infer<typeof statusReportSchema>

/** Serves this node's view of the grid to any authenticated peer (CLI clients use it). */
export async function handleStatus (libp2p: Libp2p, report: () => StatusReport, log: Logger): Promise<void> {
  await libp2p.handle(STATUS_PROTOCOL, async (stream) => {
    const json = new JsonStream(stream)
    try {
      await json.read(z.object({}), { signal: AbortSignal.timeout(5000) })
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
