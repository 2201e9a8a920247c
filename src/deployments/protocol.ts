import * as v from 'valibot'
import type { Libp2p, AbortOptions, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream, MAX_MESSAGE_BYTES } from '../transport/json-stream.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import type { PeerCredentials, RequestConnection } from '../trust/credentials.ts'
import type { Role } from '../trust/roles.ts'
import { toWireError } from '../wire/wire-error.ts'
import { requestReply } from '../wire/reply.ts'
import { RateLimitedError } from '../errors.ts'
import { smallRequestsBudget } from '../transport/read-budget.ts'
import type { Deployments } from './service.ts'
import type { DeploymentView } from './types.ts'

/**
 * `grid pipeline deploy|list|status|stop|remove` speaks this protocol to any member
 * (the schedules protocol's shape): clients may list and see a status; deploy,
 * stop and remove need the member (or admin) role, checked per request.
 */
export const DEPLOYMENTS_PROTOCOL = '/gridd/deployments/1.0.0'
export const DEPLOYMENTS_ROLES: readonly Role[] = ['client', 'member', 'admin']
const CHANGE_ROLES: readonly Role[] = ['member', 'admin']

const name = v.pipe(v.string(), v.maxLength(64))
const module = v.object({ sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)), source: v.string() })
export const deploymentRequestSchema = v.variant('op', [
  v.object({ op: v.literal('deploy'), name, code: v.object({ definition: module, stages: v.pipe(v.array(v.object({ ...module.entries, name: v.pipe(v.string(), v.maxLength(64)) })), v.minLength(1), v.maxLength(32)) }), params: v.optional(v.unknown()) }),
  v.object({ op: v.literal('list') }),
  v.object({ op: v.picklist(['status', 'stop', 'remove']), name })
])
export type DeploymentRequest = v.InferOutput<typeof deploymentRequestSchema>

/** Answers one request from peer `from` on `via` (a deploy is recorded as `peer:<id>`'s). */
export function answerDeploymentRequest (deployments: Deployments, credentials: Pick<PeerCredentials, 'authorize'>, request: DeploymentRequest, from: string, via?: RequestConnection): DeploymentView | DeploymentView[] {
  if (request.op !== 'list' && request.op !== 'status') credentials.authorize(from, CHANGE_ROLES, `${DEPLOYMENTS_PROTOCOL} ${request.op}`, via)
  switch (request.op) {
    case 'deploy': return deployments.deploy(request.name, request.code, request.params, `peer:${from}`)
    case 'list': return deployments.list()
    case 'status': return deployments.status(request.name)
    case 'stop': return deployments.stopDeployment(request.name)
    case 'remove': return deployments.removeDeployment(request.name)
  }
}

/** The node's stream handler: one request, one `{ ok, value | error }` reply; past what `reading` lets a peer have being read, ERR_RATE_LIMITED. */
export function deploymentsHandler (deployments: () => Deployments, credentials: Pick<PeerCredentials, 'authorize'>, rejections: Rejections, reading = smallRequestsBudget(MAX_MESSAGE_BYTES)): StreamHandler {
  return async (stream, connection) => {
    const from = connection.remotePeer.toString()
    const json = new JsonStream(stream, { budget: reading.of(from) })
    try {
      let reply
      try {
        const request = await json.readLast(deploymentRequestSchema, { signal: AbortSignal.timeout(10_000) })
        try {
          reply = { ok: true, value: answerDeploymentRequest(deployments(), credentials, request, from, connection) }
        } catch (err) {
          reply = { ok: false, error: toWireError(err) }
        }
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw err
        // refused from its length, its body dropped as it comes: retryable
        reading.refused(rejections, DEPLOYMENTS_PROTOCOL, from, 'a deployments request')
        reply = { ok: false, error: toWireError(err) }
      }
      await json.write(reply)
      await json.close()
    } catch (err) {
      rejections.reject(DEPLOYMENTS_PROTOCOL, streamFailure(err), from, 'dropped a deployments request', String(err), { err })
      stream.abort(err as Error)
    }
  }
}

/** The CLI side: one request; the node's refusal comes back as a RemoteError with its code. */
export async function requestDeployments (libp2p: Libp2p, target: Multiaddr, request: DeploymentRequest, options: AbortOptions = {}): Promise<unknown> {
  return await requestReply(libp2p, target, DEPLOYMENTS_PROTOCOL, request, options)
}
