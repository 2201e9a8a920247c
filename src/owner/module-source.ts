import { access, constants, readFile, stat } from 'node:fs/promises'
import { accessSync } from 'node:fs'
import { extname, resolve, isAbsolute } from 'node:path'
import { ConfigError, StageBundleError } from '../errors.ts'
import { shown } from '../checks/check.ts'
import { MAX_MODULE_BYTES, MODULE_EXTENSIONS, sha256 } from '../wire/module-ref.ts'
import type { ModuleRef } from '../wire/module-ref.ts'

export type ShippableModule = ModuleRef & { source: string }

interface Bundled {
  module: ShippableModule
  /** Every file that went into the bundle, with the mtime it had: a change to one rebuilds. */
  inputs: Array<{ path: string, mtimeMs: number }>
}

/** Bundles kept per entry path; a pipeline respawning workers reuses its stage's bundle. */
const MAX_CACHED = 64
const cache = new Map<string, Promise<Bundled>>()

/**
 * Requester side: the stage module as one ES module with its relative imports
 * inlined (esbuild), ready to ship to an agent that has none of its files.
 * Bare imports stay imports, resolved on the agent. The ref's sha256 is the
 * bundle's. Cached per entry path until any input file's mtime changes.
 */
export async function readModule (path: string, stage = 'stage'): Promise<ShippableModule> {
  const absolute = await checkModulePath(path)
  const cached = cache.get(absolute)
  if (cached != null) {
    // a failed build is already out of the cache; its waiters get its error
    const bundled = await cached
    if (await unchanged(bundled)) return bundled.module
    if (cache.get(absolute) === cached) cache.delete(absolute)
  }
  let pending = cache.get(absolute)
  if (pending == null) {
    const building = bundle(absolute, stage)
    pending = building
    cache.set(absolute, building)
    building.catch(() => { if (cache.get(absolute) === building) cache.delete(absolute) })
    while (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!)
  }
  return (await pending).module
}

/**
 * A bundle another peer shipped to this node (a stored task module), shipped on exactly as stored. Never
 * rebuilt here: esbuild would resolve its imports on this node's disk with this node's rights and inline what
 * they name (`import key from '../../certs/node.key' with { type: 'text' }`) into code that peer controls.
 */
export async function readStoredModule (path: string, stage = 'stage'): Promise<ShippableModule> {
  const absolute = await checkModulePath(path)
  const source = await readFile(absolute, 'utf8')
  if (Buffer.byteLength(source) > MAX_MODULE_BYTES) throw new StageBundleError(stage, absolute, `the module is over ${MAX_MODULE_BYTES} bytes`)
  return { path: absolute, sha256: sha256(source), source }
}

/** The absolute path of a readable stage module of a kind a worker can import. */
export async function checkModulePath (path: string): Promise<string> {
  const absolute = importablePath(path)
  await access(absolute, constants.R_OK).catch((err: Error) => { throw unreadable(absolute, err) })
  return absolute
}

/**
 * checkModulePath at the call: `submit` returns its task at once, so a module no pool could load (a missing file)
 * is refused there with the error a pipeline's run gets, not left to fail the task later.
 */
export function checkModulePathSync (path: string): string {
  const absolute = importablePath(path)
  try {
    accessSync(absolute, constants.R_OK)
  } catch (err) {
    throw unreadable(absolute, err as Error)
  }
  return absolute
}

function importablePath (path: string): string {
  // a JS caller's number or missing module would reach path.resolve, whose TypeError names no option
  if (typeof path !== 'string' || path === '') throw new ConfigError('module', `must be the path of a stage module, got ${shown(path)}`)
  const absolute = resolve(path)
  if (!MODULE_EXTENSIONS.has(extname(absolute))) throw new ConfigError('module', `stage module ${absolute} must be a .js, .mjs, .ts or .mts file`)
  return absolute
}

function unreadable (absolute: string, err: Error): ConfigError {
  return new ConfigError('module', `cannot read stage module ${absolute}: ${err.message}`, { cause: err })
}

async function unchanged (bundled: Bundled): Promise<boolean> {
  const now = await Promise.all(bundled.inputs.map(async i => await stat(i.path).then(s => s.mtimeMs, () => -1)))
  return bundled.inputs.every((input, n) => now[n] === input.mtimeMs)
}

interface EsbuildMessage { text: string, location?: { file: string, line: number, column: number } | null }

/** How a bundle treats bare imports (packages): left as imports (resolved where it runs), or inlined. */
export interface BundleOptions {
  packages?: 'external' | 'bundle'
  /** Bare imports that must stay imports even when packages are inlined (what is left is in `imports`). */
  external?: string[]
}

/**
 * One file with its relative imports inlined, uncached (a deployment's definition:
 * `packages: 'bundle'` makes it self-contained). `imports` lists what stayed an import.
 */
export async function bundleModule (path: string, label: string, options: BundleOptions = {}): Promise<ShippableModule & { imports: string[] }> {
  const bundled = await bundle(await checkModulePath(path), label, options)
  return { ...bundled.module, imports: bundled.imports }
}

async function bundle (absolute: string, stage: string, options: BundleOptions = {}): Promise<Bundled & { imports: string[] }> {
  // loaded on first use: a node that never ships code never starts esbuild's service process
  const { build } = await import('esbuild')
  const started = Date.now()
  let result
  try {
    result = await build({
      entryPoints: [absolute],
      absWorkingDir: '/',
      outfile: '/stage.mjs',
      write: false,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node22.18',
      // bare imports (packages) stay imports and resolve on the agent; relative ones are inlined
      packages: options.packages ?? 'external',
      ...(options.external != null ? { external: options.external } : {}),
      metafile: true,
      // stack traces from the agent name the requester's files and lines
      sourcemap: 'inline',
      sourcesContent: false,
      sourceRoot: 'file:///',
      logLevel: 'silent'
    })
  } catch (err) {
    const first = (err as { errors?: EsbuildMessage[] }).errors?.[0]
    const at = first?.location
    const file = at != null ? absoluteFrom(at.file) : absolute
    throw new StageBundleError(stage, at != null ? `${file}:${at.line}:${at.column}` : file, first?.text ?? (err as Error).message, { cause: err })
  }
  const source = result.outputFiles[0]?.text ?? ''
  if (Buffer.byteLength(source) > MAX_MODULE_BYTES) throw new StageBundleError(stage, absolute, `the bundle is over ${MAX_MODULE_BYTES} bytes`)
  const inputs = await Promise.all(Object.keys(result.metafile.inputs).map(async file => {
    const path = absoluteFrom(file)
    return { path, mtimeMs: (await stat(path)).mtimeMs }
  }))
  // built before the mtimes were read: an edit in between makes the next spawn rebuild, never reuse a stale bundle
  if (inputs.some(i => i.mtimeMs > started)) inputs.forEach(i => { i.mtimeMs = -1 })
  const imports = Object.values(result.metafile.outputs).flatMap(o => o.imports.filter(i => i.external).map(i => i.path))
  return { module: { path: absolute, sha256: sha256(source), source }, inputs, imports }
}

/** esbuild names files relative to absWorkingDir ('/'); some (plugins, namespaces) are not files at all. */
function absoluteFrom (file: string): string {
  const path = file.replace(/^[a-z-]+:/, '')
  return isAbsolute(path) ? path : resolve('/', path)
}
