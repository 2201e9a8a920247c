import { access, constants } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { bundleModule, readModule } from '../owner/module-source.ts'
import { checkDefinition } from './definition.ts'
import { MAX_CODE_BYTES } from './types.ts'
import { ConfigError, DefinitionError, GridError } from '../errors.ts'
import { shown } from '../checks/check.ts'

/** A deployment's code as it travels and is stored: the definition bundle and each stage's, by sha256. */
export interface PackedDeployment {
  definition: { sha256: string, source: string }
  stages: Array<{ name: string, sha256: string, source: string }>
}

/**
 * Reads a deployment's file where it is deployed from: bundles it self-contained
 * (relative imports and packages inlined, so any member can load it), loads it to
 * check its shape, then bundles each stage it names (as stages are shipped to
 * agents). Throws ConfigError for a missing file, DefinitionError for a bad one.
 */
export async function packDeployment (file: string, options: { signal?: AbortSignal } = {}): Promise<PackedDeployment> {
  // a JS caller's number would reach path.resolve, whose TypeError names no option
  if (typeof file !== 'string' || file === '') throw new ConfigError('file', `must be the path of a pipeline definition, got ${shown(file)}`)
  const absolute = resolve(file)
  await access(absolute, constants.R_OK).catch((err: Error) => { throw new ConfigError('file', `cannot read the pipeline definition ${absolute}: ${err.message}`, { cause: err }) })
  const definition = await bundleModule(absolute, 'definition', { packages: 'bundle', external: ['gridd'] }).catch((err: unknown) => {
    throw err instanceof GridError && err.code !== 'ERR_STAGE_BUNDLE' ? err : new DefinitionError(absolute, `cannot be bundled: ${(err as Error).message}`, { cause: err })
  })
  if (definition.imports.some(i => i === 'gridd' || i.startsWith('gridd/'))) {
    throw new DefinitionError(absolute, 'imports gridd: a definition gets the connectors from its factories\' context (ctx.connectors.redisStreamSource), so it runs on any member')
  }
  options.signal?.throwIfAborted()
  // a query per content: an edited file is loaded afresh, never from the module cache
  const loaded = await import(`${pathToFileURL(absolute).href}?gridd-deploy=${definition.sha256}`).catch((err: Error) => {
    throw new DefinitionError(absolute, `cannot be loaded: ${err.message}`, { cause: err })
  })
  const shape = checkDefinition(loaded, absolute)
  const stages = []
  for (const stage of shape.stages) {
    options.signal?.throwIfAborted()
    const module = await readModule(stagePath(stage.module, absolute), stage.name)
    stages.push({ name: stage.name, sha256: module.sha256, source: module.source })
  }
  const bytes = [definition, ...stages].reduce((sum, m) => sum + Buffer.byteLength(m.source), 0)
  if (bytes > MAX_CODE_BYTES) throw new DefinitionError(absolute, `its bundle and its stages' come to ${bytes} bytes; at most ${MAX_CODE_BYTES} are stored grid-wide`)
  return { definition: { sha256: definition.sha256, source: definition.source }, stages }
}

/** A stage's module as a path: a file URL, an absolute path, or a path relative to the definition's directory. */
function stagePath (module: string | URL, definition: string): string {
  if (module instanceof URL) return fileURLToPath(module)
  if (module.startsWith('file:')) return fileURLToPath(module)
  return resolve(dirname(definition), module)
}
