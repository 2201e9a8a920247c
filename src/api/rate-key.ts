import type { FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'

/**
 * The rate-limit bucket of a request: an authenticated caller's subject,
 * wherever it connects from; otherwise (webhooks, `/docs/json`) its client
 * address (an IPv6 /64 as one) and the route pattern it reached, its
 * parameters left out: every hook name, known or not, and every spelling of
 * a URL is the same bucket for one client, so cycling names neither escapes
 * the limit nor churns the limiter's store. Webhooks are checked against
 * their signature only after this: keyed by the hook alone, anyone's junk
 * filled the bucket its genuine sender needs.
 */
export function rateKey (request: FastifyRequest): string {
  if (request.principal != null) return `sub:${request.principal.subject}`
  return `anon:${normalizeIP(request.ip)} ${request.routeOptions.url ?? '(no route)'}`
}
