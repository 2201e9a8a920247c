import type { JwtOptions } from './auth/jwt.ts'
import type { HookConfig } from './hooks/hook-config.ts'
import type { FirerInit } from '../schedules/firer.ts'
import { MAX_WAIT_MS } from '../tasks/protocol-schema.ts'
import { checkOptional } from '../checks/check.ts'
import { positiveInteger, timerMs } from '../checks/values.ts'

/** `node.use(apiAddon, options)` / `grid node --api <port>`. */
export interface ApiOptions {
  /** 0 picks a free port. */
  port: number
  /** Default 127.0.0.1: widening it is a decision (`--api-host`). */
  host?: string
  /** Host names answered besides IP addresses, localhost and `host` (others get 403: DNS rebinding). Default none. */
  allowedHosts?: string[]
  /** How bearer tokens are verified; absent, every route but the webhooks and `/docs/json` answers 401. */
  jwt?: JwtOptions
  /**
   * Serve HTTPS with this certificate and key (PEM), and accept client certificates signed by `ca`:
   * their roles grant scopes (client: read, submit, cancel; member: also module paths; admin: all).
   * `grid node --api-tls` passes the node's own TLS material.
   */
  tls?: { ca: string, cert: string, key: string }
  /** Webhooks: `POST /v1/hooks/<name>` runs a registered task. */
  hooks?: HookConfig[]
  /** Largest request body. Default 256 KiB. */
  bodyLimitBytes?: number
  /** Requests per subject (token `sub`, else the client address) per `rateWindowMs`. Default 600. */
  rateLimit?: number
  /** Default 60 000. */
  rateWindowMs?: number
  /** Events kept per task and per session for `Last-Event-ID` resume. Default 1000. */
  replayEvents?: number
  /** How long a finished task's or session's events stay for resume. Default 300 000 (5 min). */
  replayTtlMs?: number
  /** Tasks and sessions followed at once (each holds a replay buffer); one being read is never let go to make room (a new reader gets 503). Default 4096. */
  maxFollowed?: number
  /** Open event streams and WebSockets at once. Default 256. */
  maxStreams?: number
  /** Open event streams and WebSockets of one subject (token `sub`, or client certificate) at once. Default 32. */
  maxStreamsPerSubject?: number
  /** How long `?wait=1` (and a waiting hook) waits for the outcome before it answers 202 with the task as it stands. Default 60 000, as over the tasks protocol. */
  maxWaitMs?: number
  /** How often a WebSocket is pinged; one that has not answered the ping before is closed (its peer is gone). Default 15 000. */
  pingMs?: number
  /** A live reader (SSE or WebSocket) with more than this many bytes unsent is dropped. Default 1 MiB. */
  maxBufferedBytes?: number
  /** Webhook timestamps older or newer than this are refused. Default 300 000 (5 min). */
  hookWindowMs?: number
  /** Schedule firing timings (lease, grace, step); defaults suit a LAN. */
  schedules?: Omit<FirerInit, 'now'>
}

/** ApiOptions with every default filled in. */
export type ApiSettings = Required<Omit<ApiOptions, 'jwt' | 'hooks' | 'tls' | 'schedules'>> & Pick<ApiOptions, 'jwt' | 'tls' | 'schedules'> & { hooks: HookConfig[] }

export function apiSettings (options: ApiOptions): ApiSettings {
  const count = (key: ApiCountKey, fallback: number): number => checkOptional(`api.${key}`, API_COUNTS[key], options[key]) ?? fallback
  return {
    port: options.port,
    host: options.host ?? '127.0.0.1',
    allowedHosts: options.allowedHosts ?? [],
    jwt: options.jwt,
    tls: options.tls,
    hooks: options.hooks ?? [],
    schedules: options.schedules,
    bodyLimitBytes: count('bodyLimitBytes', 256 * 1024),
    rateLimit: count('rateLimit', 600),
    rateWindowMs: count('rateWindowMs', 60_000),
    replayEvents: count('replayEvents', 1000),
    replayTtlMs: count('replayTtlMs', 300_000),
    maxFollowed: count('maxFollowed', 4096),
    maxStreams: count('maxStreams', 256),
    maxStreamsPerSubject: count('maxStreamsPerSubject', 32),
    pingMs: count('pingMs', 15_000),
    maxWaitMs: count('maxWaitMs', MAX_WAIT_MS),
    maxBufferedBytes: count('maxBufferedBytes', 1024 * 1024),
    hookWindowMs: count('hookWindowMs', 300_000)
  }
}

type ApiCountKey = 'bodyLimitBytes' | 'rateLimit' | 'rateWindowMs' | 'replayEvents' | 'replayTtlMs' | 'maxFollowed' | 'maxStreams' |
  'maxStreamsPerSubject' | 'pingMs' | 'maxWaitMs' | 'maxBufferedBytes' | 'hookWindowMs'

/** The numeric options' rules (values.ts): a JS caller's '600' or -1 is refused naming the option, not handed to Fastify. */
const API_COUNTS: Record<ApiCountKey, typeof positiveInteger | typeof timerMs> = {
  bodyLimitBytes: positiveInteger,
  rateLimit: positiveInteger,
  rateWindowMs: timerMs,
  replayEvents: positiveInteger,
  replayTtlMs: timerMs,
  maxFollowed: positiveInteger,
  maxStreams: positiveInteger,
  maxStreamsPerSubject: positiveInteger,
  pingMs: timerMs,
  maxWaitMs: timerMs,
  maxBufferedBytes: positiveInteger,
  hookWindowMs: timerMs
}
