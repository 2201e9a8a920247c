import { registerHooks, setSourceMapsSupport } from 'node:module'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Not relative, absolute or a URL (node:, file:, data:): a package name. */
const isBare = (specifier: string): boolean => !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier)

/**
 * Prepares this worker to import a bundle shipped by a requester. The bundle
 * sits in the agent's data dir, beside no node_modules: its bare imports
 * resolve as if imported from each of `dirs` that exists here (the
 * requester's entry directory, when this machine has it), then from the
 * working directory (the agent's), and only then as usual. Its inline source map makes
 * stack traces name the requester's files and lines.
 */
export function prepareShippedModule (bundlePath: string, dirs: string[]): void {
  setSourceMapsSupport(true)
  const bundleUrl = pathToFileURL(bundlePath).href
  const parents = [...dirs, process.cwd()].filter(dir => existsSync(dir)).map(dir => pathToFileURL(join(dir, 'resolve-from.js')).href)
  registerHooks({
    resolve (specifier, context, nextResolve) {
      if (context.parentURL !== bundleUrl || !isBare(specifier)) return nextResolve(specifier, context)
      for (const parentURL of parents) {
        try {
          return nextResolve(specifier, { ...context, parentURL })
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err
        }
      }
      return nextResolve(specifier, context)
    }
  })
}
