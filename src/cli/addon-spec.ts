import { resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ConfigError, StageBundleError } from '../errors.ts'
import type { Addon } from '../addons/addon.ts'

/** `module[:json-options]`: a path (./x.ts, /abs/x.mjs) or a package name, then optional JSON options. */
export function parseAddonSpec (spec: string): { module: string, options: unknown } {
  const at = spec.search(/:[[{]/)
  const module = at < 0 ? spec : spec.slice(0, at)
  if (module === '') throw new ConfigError('--addon', `no module in "${spec}"`)
  if (at < 0) return { module, options: {} }
  try {
    return { module, options: JSON.parse(spec.slice(at + 1)) }
  } catch (err) {
    throw new ConfigError('--addon', `the options after "${module}:" are not valid JSON: ${(err as Error).message}`)
  }
}

/** Imports an add-on module; its default export must be made with defineAddon. */
export async function loadAddon (module: string, cwd: string): Promise<Addon<unknown>> {
  // a file that exists (relative to cwd or absolute) wins over a package of the same name
  const path = resolve(cwd, module)
  const target = module.startsWith('.') || module.startsWith('/') || existsSync(path) ? pathToFileURL(path).href : module
  let loaded: { default?: unknown }
  try {
    loaded = await import(target) as { default?: unknown }
  } catch (err) {
    throw new ConfigError('--addon', `cannot load "${module}": ${(err as Error).message}${await syntaxErrorAt(err, target)}`, { cause: err })
  }
  const addon = loaded.default as Addon<unknown> | undefined
  if (addon == null || typeof addon.name !== 'string' || typeof addon.start !== 'function') throw new ConfigError('--addon', `"${module}" has no default export made with defineAddon({ name, start })`)
  return addon
}

/**
 * Where a syntax error is: Node's SyntaxError from import() names neither file nor line ("Unexpected
 * token '}'", "Expression expected"), and the file may be one the add-on imports. esbuild, which bundles
 * stages, parses the add-on and its relative imports and says where (" at /x/addon.ts:3:25").
 */
async function syntaxErrorAt (err: unknown, target: string): Promise<string> {
  if (!(err instanceof SyntaxError) || !target.startsWith('file:')) return ''
  try {
    const { bundleModule } = await import('../owner/module-source.ts')
    await bundleModule(fileURLToPath(target), 'add-on')
  } catch (bundleError) {
    if (bundleError instanceof StageBundleError) return ` (at ${bundleError.file})`
  }
  return ''
}
