import { isBuiltin, registerHooks, setSourceMapsSupport } from 'node:module'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { basename, isAbsolute, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { sha256 } from '../wire/module-ref.ts'
import { ModuleIntegrityError } from '../errors.ts'

/** Not relative, absolute or a URL (node:, file:, data:): a package name. */
const isBare = (specifier: string): boolean => !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier)

/** `pkg/sub` -> `pkg`, `@scope/pkg/sub` -> `@scope/pkg`. */
export function packageName (specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/**
 * Prepares this worker to import a bundle shipped by a requester, from the
 * agent's content-addressed cache. The bundle is re-hashed first: a file
 * whose content no longer matches its name is not imported
 * (ModuleIntegrityError). Its bare imports resolve only from the
 * `node_modules` of `roots` (the agent's own packages, chosen by the agent),
 * never upward from the cache: a `node_modules` planted beside the data dir or
 * in the temp dir is not used. Its inline source map makes stack traces name
 * the requester's files and lines.
 */
export function prepareShippedModule (bundlePath: string, roots: string[]): void {
  const expected = /^([0-9a-f]{64})\.mjs$/.exec(basename(bundlePath))?.[1]
  const actual = sha256(readFileSync(bundlePath, 'utf8'))
  if (actual !== expected) throw new ModuleIntegrityError(bundlePath, actual)
  setSourceMapsSupport(true)
  const bundleUrl = pathToFileURL(bundlePath).href
  // the roots' node_modules, also as Node names them once symbolic links are followed
  const allowed = roots.flatMap(dir => { const modules = join(dir, 'node_modules'); return [modules, realOr(modules)] })
  const fromAllowed = (url: string | undefined): boolean => url?.startsWith('file:') === true && allowed.some(dir => within(fileURLToPath(url), dir))
  const notFound = (name: string): Error => Object.assign(new Error(`Cannot find package '${name}' imported by the shipped stage: an agent resolves packages only among its own (${roots.map(r => join(r, 'node_modules')).join(', ') || 'none'})`), { code: 'ERR_MODULE_NOT_FOUND' })
  registerHooks({
    resolve (specifier, context, nextResolve) {
      if (!isBare(specifier) || isBuiltin(specifier)) return nextResolve(specifier, context)
      if (context.parentURL !== bundleUrl) {
        // a package's own bare import: Node looks further up than the roots when it is not installed
        // beside it, into directories another user may have planted a package in
        if (!fromAllowed(context.parentURL)) return nextResolve(specifier, context)
        const resolved = nextResolve(specifier, context)
        if (resolved.url.startsWith('file:') && !fromAllowed(resolved.url)) throw notFound(packageName(specifier))
        return resolved
      }
      const name = packageName(specifier)
      // resolved as if imported from the root itself: Node finds <root>/node_modules/<name> first, nothing above it
      const root = roots.find(dir => existsSync(join(dir, 'node_modules', name)))
      if (root != null) return nextResolve(specifier, { ...context, parentURL: pathToFileURL(join(root, 'resolve-from.js')).href })
      throw notFound(name)
    }
  })
}

function realOr (path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

function within (path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)
}
