import { resolve } from 'node:path'
import { ConfigError } from '../errors.ts'
import { checkModulePath } from '../owner/module-source.ts'
import { TASK_NAME } from '../tasks/protocol-schema.ts'

/**
 * `grid node --task name=module`: a task clients may run by name. Resolved
 * before the node starts: a bad name or a module that is not a readable
 * .js/.mjs/.ts/.mts file stops it with exit code 2.
 */
export async function resolveTaskSpec (spec: string, cwd: string): Promise<{ name: string, module: string }> {
  const at = spec.indexOf('=')
  const name = at < 0 ? '' : spec.slice(0, at)
  const module = at < 0 ? '' : spec.slice(at + 1)
  if (name === '' || module === '') throw new ConfigError('--task', `expected name=module, got "${spec}"`)
  if (!TASK_NAME.test(name)) throw new ConfigError('--task', `task name "${name}" must be 1-64 letters, digits, '.', '_' or '-'`)
  try {
    return { name, module: await checkModulePath(resolve(cwd, module)) }
  } catch (err) {
    throw new ConfigError('--task', `${name}: ${(err as Error).message}`)
  }
}
