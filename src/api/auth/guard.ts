import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Principal, Scope } from './scopes.ts'
import { hasScope } from './scopes.ts'
import type { VerifyToken } from './jwt.ts'
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../../errors.ts'
import { AuthFailures } from './failures.ts'
import { certificatePrincipal } from './certificate.ts'

/** Failed authentications one client address may make per minute before it is refused unheard (429). */
const MAX_AUTH_FAILURES_PER_MINUTE = 60

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, once its bearer token is verified (routes with a `scope`). */
    principal?: Principal
  }
  interface FastifyContextConfig {
    /** The scope a route needs; absent, the route checks its caller itself (webhooks) or is public (`/docs/json`). */
    scope?: Scope
  }
}

/**
 * Authenticates every route that names a scope, before its body is read, by
 * its bearer token or (over HTTPS, without a token) its client certificate:
 * no or a bad credential → 401 (ERR_UNAUTHORIZED, with a Bearer challenge),
 * a token without the scope → 403 (ERR_FORBIDDEN). An address with too many
 * failures in the last minute is refused before its token is verified (429).
 */
export function requireScopes (app: FastifyInstance, verify: VerifyToken | undefined, revoked: (serial: string) => boolean, failures = new AuthFailures(MAX_AUTH_FAILURES_PER_MINUTE, 60_000)): void {
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config.scope
    if (scope == null) return
    const blockedMs = failures.blockedFor(request.ip)
    if (blockedMs > 0) throw new RateLimitedError(blockedMs)
    const token = bearerToken(request)
    // over HTTPS, a verified client certificate speaks for its holder when no token does
    const certified = token == null ? certificatePrincipal(request, revoked) : undefined
    if (certified != null) {
      if (!hasScope(certified, scope)) throw new ForbiddenError(`the roles of this client certificate do not grant the scope ${scope}`)
      request.principal = certified
      return
    }
    if (token == null || verify == null) {
      failures.record(request.ip)
      void reply.header('www-authenticate', 'Bearer realm="gridd"')
      throw new UnauthorizedError(verify == null ? 'this API has no token verifier configured (--api-jwt-secret-file, --api-jwt-public-key-file or --api-jwks-file)' : 'an Authorization: Bearer <JWT> header is required')
    }
    let principal: Principal
    try {
      principal = await verify(token)
    } catch (err) {
      failures.record(request.ip)
      void reply.header('www-authenticate', 'Bearer realm="gridd", error="invalid_token"')
      throw err
    }
    if (!hasScope(principal, scope)) throw new ForbiddenError(`this token lacks the scope ${scope}`)
    request.principal = principal
  })
}

function bearerToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header == null) return undefined
  const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header)
  return match?.[1]
}
