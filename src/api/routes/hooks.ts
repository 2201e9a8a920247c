import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import type { HookConfig } from '../hooks/hook-config.ts'
import { checkHookNames } from '../hooks/hook-config.ts'
import { HookVerifier, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../hooks/signature.ts'
import { acceptedSchema, outcomeSchema, problemResponses } from '../schemas.ts'
import { submitTask, taskView } from '../submit.ts'
import { settledWithin } from '../../tasks/settled-within.ts'
import { replySignal } from '../reply-signal.ts'
import { sendHeld } from '../held-reply.ts'
import { ConfigError, NotFoundError, RateLimitedError } from '../../errors.ts'

/**
 * All verified webhook calls together, per rate window, in clients' worth
 * (`rateLimit` each): each client address has its own bucket, and this bounds
 * the tasks that many senders together can make the node run. Counted after the
 * signature, so unsigned junk from any number of addresses never uses it up.
 */
export const HOOK_CLIENTS = 10

interface LoadedHook extends HookConfig {
  secret: Uint8Array
}

/** Reads each hook's secret once; a hook naming a task not registered here is a configuration error. */
export async function loadHooks (hooks: HookConfig[], registered: (name: string) => string | undefined): Promise<Map<string, LoadedHook>> {
  const loaded = new Map<string, LoadedHook>()
  for (const hook of hooks) {
    checkHookNames(hook)
    if (loaded.has(hook.name)) throw new ConfigError('api-hook', `hook ${hook.name} is given twice`)
    if (registered(hook.task) == null) throw new ConfigError('api-hook', `hook ${hook.name} runs task ${hook.task}, which is not registered on this node (--task ${hook.task}=<module>)`)
    const text = await readFile(hook.secretFile, 'utf8').catch((err: Error) => { throw new ConfigError('api-hook', `cannot read the secret of hook ${hook.name}, ${hook.secretFile}: ${err.message}`, { cause: err }) })
    const secret = new TextEncoder().encode(text.trim())
    if (secret.length < 16) throw new ConfigError('api-hook', `the secret of hook ${hook.name} must be at least 16 bytes`)
    loaded.set(hook.name, { ...hook, secret })
  }
  return loaded
}

/**
 * `POST /v1/hooks/:name`: the raw body (any content type; JSON is parsed into
 * the task's input, anything else given as text) is checked against the
 * hook's HMAC-SHA256 signature and timestamp before anything runs.
 */
export function hookRoutes (app: FastifyInstance, api: ApiContext, hooks: Map<string, LoadedHook>): void {
  const verifier = new HookVerifier(api.settings.hookWindowMs)
  // counts only calls their client's own limit let through and whose signature verified
  const allHooks = app.createRateLimit({ keyGenerator: () => 'hooks', max: api.settings.rateLimit * HOOK_CLIENTS, timeWindow: api.settings.rateWindowMs })
  // an encapsulated context: its parser keeps the raw bytes the signature covers, for this route only
  void app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers()
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: api.settings.bodyLimitBytes }, (_request, body, done) => { done(null, body) })
    scoped.post<{ Params: { name: string }, Body: Buffer | undefined }>('/v1/hooks/:name', {
      schema: {
        summary: `Run a hook's registered task with the body as input: signed with ${SIGNATURE_HEADER}: sha256=HMAC-SHA256(secret, "<${TIMESTAMP_HEADER}>.<raw body>") in hex, and ${TIMESTAMP_HEADER} (seconds) within the window`,
        tags: ['hooks'],
        params: { type: 'object', properties: { name: { type: 'string', maxLength: 64 } }, required: ['name'] },
        headers: { type: 'object', properties: { [SIGNATURE_HEADER]: { type: 'string', maxLength: 100 }, [TIMESTAMP_HEADER]: { type: 'string', maxLength: 20 } } },
        response: { 200: outcomeSchema, 202: acceptedSchema, ...problemResponses }
      }
    }, async (request, reply) => {
      const hook = hooks.get(request.params.name)
      if (hook == null) throw new NotFoundError(`no hook ${JSON.stringify(request.params.name)} on this node`)
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const release = verifier.verify(hook.secret, { signature: header(request.headers[SIGNATURE_HEADER]), timestamp: header(request.headers[TIMESTAMP_HEADER]) }, body)
      let task
      try {
        const shared = await allHooks(request)
        if (!shared.isAllowed && shared.isExceeded) throw new RateLimitedError(shared.ttl)
        // a caller with no scopes: its tasks are read by members and admins only (no token's `sub` starts with hook:)
        task = submitTask(api, { task: hook.task, input: inputOf(body, request.headers['content-type']) }, { subject: `hook:${hook.name}`, scopes: new Set() })
      } catch (err) {
        // refused, nothing run (a 429 after Retry-After, a 503): the sender's retry of this very call is no replay
        release()
        throw err
      }
      if (hook.wait === true) {
        await settledWithin(task, { signal: replySignal(reply), timeoutMs: api.settings.maxWaitMs })
        if (task.final) return await sendHeld(api, reply, `hook:${hook.name}`, 200, taskView(task))
      }
      return await reply.code(202).header('location', `/v1/tasks/${encodeURIComponent(task.id)}`).send({ id: task.id, session: task.session, status: task.status })
    })
  })
}

function header (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** JSON bodies become their value (a bad one a 400); others their text; none, null. */
function inputOf (body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return null
  if (contentType == null || !/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) return body.toString('utf8')
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new ConfigError('body', `is not JSON: ${(err as Error).message}`)
  }
}
