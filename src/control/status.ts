import * as v from 'valibot'
import type { Libp2p, AbortOptions, PeerId, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream, checkMessage, requestJson } from '../transport/json-stream.ts'
import { MAX_STATUS_MEMBERS, MAX_STATUS_REPLY_BYTES, statusReportSchema, statusRequestSchema } from './status-report.ts'
import type { StatusReport, StatusRequest } from './status-report.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import { RateLimitedError } from '../errors.ts'
import { RemoteError, toWireError, wireErrorSchema } from '../wire/wire-error.ts'
import { PeerBudget } from '../transport/peer-budget.ts'

export const STATUS_PROTOCOL = '/gridd/status/1.0.0'

export type { StatusReport, StatusRequest }

/** The answer instead of a report when the node refuses the request (too many from this peer: ERR_RATE_LIMITED). */
const statusRefusalSchema = v.object({ ok: v.literal(false), error: wireErrorSchema })

/**
 * What status requests one peer may cost: each answer costs the rows it serialises (a full-table JSON.stringify),
 * 10,000 a second, 100,000 at once, at least 100 a request: a small grid's status is as cheap to poll as ever, while
 * one peer cannot make a 65,536-member node serialise its table in a loop.
 */
export function statusBudget (): PeerBudget {
  return new PeerBudget({ perSecond: 10_000, burst: 100_000, minCost: 100 })
}

/**
 * The handler of STATUS_PROTOCOL: this node's view of the grid for every authenticated peer (CLI clients use it);
 * a bad request is counted in `rejections`, and each peer's answers are paid from `budget` (rows serialised).
 */
export function statusHandler (report: (request: StatusRequest) => StatusReport, rejections: Rejections, budget = statusBudget()): StreamHandler {
  return async (stream, connection) => {
    const json = new JsonStream(stream)
    const peer = connection.remotePeer.toString()
    try {
      const request = await json.readLast(statusRequestSchema, { signal: AbortSignal.timeout(5000) })
      const waitMs = budget.waitMs(peer)
      if (waitMs > 0) {
        rejections.reject(STATUS_PROTOCOL, 'rate-limited', peer, 'refused status requests: too many from this peer', `retry in ${waitMs} ms`)
        await json.write({ ok: false, error: toWireError(new RateLimitedError(waitMs)) })
      } else {
        const full = report(request)
        budget.charge(peer, full.members.length + 1)
        // never more rows than a client accepts (the node's own tables stay below this by construction)
        await json.write(full.members.length > MAX_STATUS_MEMBERS ? { ...full, members: full.members.slice(0, MAX_STATUS_MEMBERS) } : full)
      }
      await json.close()
    } catch (err) {
      rejections.reject(STATUS_PROTOCOL, streamFailure(err), peer, 'dropped a status request', String(err), { err })
      stream.abort(err as Error)
    }
  }
}

/**
 * Asks the node at `target` for its status report (`all`: remembered members too). A node that
 * refuses (too many requests from this peer) throws its error (a RemoteError, ERR_RATE_LIMITED).
 */
export async function fetchStatus (libp2p: Libp2p, target: Multiaddr | PeerId, options: AbortOptions & StatusRequest = {}): Promise<StatusReport> {
  const { all, ...rest } = options
  const reply = await requestJson(libp2p, target, STATUS_PROTOCOL, all === true ? { all } : {}, v.unknown(), { ...rest, maxBytes: MAX_STATUS_REPLY_BYTES })
  const refusal = v.safeParse(statusRefusalSchema, reply)
  if (refusal.success) throw new RemoteError(refusal.output.error)
  return checkMessage(reply, statusReportSchema)
}
