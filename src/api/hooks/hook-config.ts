import { ConfigError } from '../../errors.ts'

/** One webhook: `POST /v1/hooks/<name>` runs the task registered as `task`, signed with the secret in `secretFile`. */
export interface HookConfig {
  name: string
  /** A task name registered on this node (`node.tasks.register`, `grid node --task`). */
  task: string
  /** A file holding the hook's HMAC secret (surrounding whitespace ignored). */
  secretFile: string
  /** Answer with the task's result (200) instead of 202 and its id. */
  wait?: boolean
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** `--api-hook name=task:secretFile[:wait]`. */
export function parseHookSpec (spec: string): HookConfig {
  const eq = spec.indexOf('=')
  const name = spec.slice(0, eq)
  const rest = spec.slice(eq + 1)
  const wait = rest.endsWith(':wait')
  const body = wait ? rest.slice(0, -':wait'.length) : rest
  const colon = body.indexOf(':')
  const task = body.slice(0, colon)
  const secretFile = body.slice(colon + 1)
  if (eq <= 0 || colon <= 0 || secretFile === '') throw new ConfigError('api-hook', `expected name=task:secretFile[:wait], got ${JSON.stringify(spec)}`)
  checkHookNames({ name, task })
  return { name, task, secretFile, wait }
}

export function checkHookNames (hook: Pick<HookConfig, 'name' | 'task'>): void {
  if (!NAME.test(hook.name)) throw new ConfigError('api-hook', `hook name ${JSON.stringify(hook.name)} must be 1-64 letters, digits, '.', '_' or '-'`)
  if (!NAME.test(hook.task)) throw new ConfigError('api-hook', `task name ${JSON.stringify(hook.task)} must be 1-64 letters, digits, '.', '_' or '-'`)
}
