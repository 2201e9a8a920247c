import * as v from 'valibot'
import type { Libp2p, AbortOptions, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream, requestJson } from '../transport/json-stream.ts'
import { strategy, weight } from '../checks/values.ts'
import type { Strategy } from '../checks/values.ts'
import { toWireError } from '../wire/wire-error.ts'
import { wireErrorSchema } from '../wire/wire-error.ts'
import { RemoteError } from '../wire/wire-error.ts'
import type { Logger } from '../logger.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'

/** Run-time control of a node by any authenticated grid peer (the CLI's client certificate included). */
export const CONTROL_PROTOCOL = '/gridd/control/1.0.0'

export const controlRequestSchema = v.variant('op', [
  v.object({ op: v.literal('set-weight'), weight }),
  v.object({ op: v.literal('set-strategy'), strategy })
])

const controlResponseSchema = v.variant('ok', [
  v.object({ ok: v.literal(true), weight, strategy }),
  v.object({ ok: v.literal(false), error: wireErrorSchema })
])

export type ControlRequest = v.InferOutput<typeof controlRequestSchema>

export interface ControlTarget {
  setWeight: (weight: number) => void
  setStrategy: (strategy: Strategy) => void
  placement: () => { weight: number, strategy: Strategy }
}

/** The handler of CONTROL_PROTOCOL (the node registers it, and unregisters it on stop); a bad request is counted in `rejections`. */
export function controlHandler (target: ControlTarget, log: Logger, rejections: Rejections): StreamHandler {
  return async (stream, connection) => {
    const json = new JsonStream(stream)
    const peer = connection.remotePeer.toString()
    try {
      const request = await json.readLast(controlRequestSchema, { signal: AbortSignal.timeout(5000) })
      try {
        if (request.op === 'set-weight') target.setWeight(request.weight)
        else target.setStrategy(request.strategy)
        log.info({ peer, ...request }, 'placement changed by a remote peer')
        await json.write({ ok: true, ...target.placement() })
      } catch (err) {
        await json.write({ ok: false, error: toWireError(err) })
      }
      await json.close()
    } catch (err) {
      rejections.reject(CONTROL_PROTOCOL, streamFailure(err), peer, 'dropped malformed control request', String(err), { err })
      stream.abort(err as Error)
    }
  }
}

/** Sends one control request; resolves with the node's placement settings after it. */
export async function sendControl (libp2p: Libp2p, target: Multiaddr, request: ControlRequest, options: AbortOptions = {}): Promise<{ weight: number, strategy: Strategy }> {
  const reply = await requestJson(libp2p, target, CONTROL_PROTOCOL, request, controlResponseSchema, options)
  if (!reply.ok) throw new RemoteError(reply.error)
  return { weight: reply.weight, strategy: reply.strategy }
}
