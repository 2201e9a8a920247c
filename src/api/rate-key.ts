import type { FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'

/**
 * The rate-limit bucket of a request: an authenticated caller's subject,
 * wherever it connects from; otherwise (webhooks, `/docs/json`) its client
 * address (an IPv6 /64 as one) and the route it reached. Webhooks are checked
 * against their signature only after this: keyed by the hook alone, anyone's
 * junk filled the bucket its genuine sender needs.
 */
export function rateKey (request: FastifyRequest): string {
  if (request.principal != null) return `sub:${request.principal.subject}`
  return `anon:${normalizeIP(request.ip)} ${routedPath(request)}`
}

/** The path as routed: no query, parameters as decoded (`/v1/hooks/%62uild` is `/v1/hooks/build`), so respelling a URL is no fresh bucket. */
function routedPath (request: FastifyRequest): string {
  const pattern = request.routeOptions.url
  if (pattern == null) return request.url.split('?')[0]!
  const params = (request.params ?? {}) as Record<string, unknown>
  return pattern.replace(/:(\w+)/g, (whole, name: string) => typeof params[name] === 'string' ? encodeURIComponent(params[name]) : whole)
}
