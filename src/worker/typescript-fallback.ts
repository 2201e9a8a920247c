import { createRequire, registerHooks, setSourceMapsSupport, stripTypeScriptTypes } from 'node:module'
import type { LoadHookSync, ResolveHookSync } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { BuildFailure, BuildOptions, BuildResult } from 'esbuild'
import { StageBundleError } from '../errors.ts'

/** Node's type stripping refuses TypeScript that is not only types (`enum`, `namespace`, parameter properties). */
const UNSUPPORTED_SYNTAX = 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX'
/** The user's own TypeScript files: Node strips no package's (node_modules), nor is one compiled here. */
const OWN_TYPESCRIPT = /^file:(?![^?]*\/node_modules\/)[^?]*\.[cm]?ts(\?|$)/
/** The query of a second compiled try (see importStageModule). */
const COMPILED = '?compiled'

type BuildSync = (options: BuildOptions & { write: false }) => BuildResult<BuildOptions & { write: false }>
interface Esbuild { buildSync: BuildSync, stop: () => void }

/**
 * Imports a stage (or task) module so that it runs here as the requester's bundle runs on any other
 * agent. A worker imports a `.ts` file in place, with Node's type stripping (stack traces and
 * `import.meta.url` are the file's own), but stripping refuses the non-erasable syntax that esbuild,
 * which bundles the stage shipped to every other agent, compiles: the same stage would run or fail by
 * where it was placed. So an import that fails for that reason (in the stage or any file it imports;
 * decorators too, which stripping keeps and V8 cannot parse yet)
 * is tried once more with each of the user's TypeScript files compiled by esbuild instead, file by file
 * and in place: the same URLs (`import.meta.url`, relative imports), an inline source map (stack traces
 * name the file and line as written). A module graph that failed to load evaluated nothing, so nothing
 * runs twice. The common case is untouched: no esbuild, and the stage imported as Node imports it. Files
 * the stage imports later, as it runs, are the user's too: a hook then compiles those of them that Node's
 * stripping refuses (decorators aside: stripping takes them, V8 refuses them after the hooks).
 */
export async function importStageModule (path: string, stage: string): Promise<unknown> {
  const url = pathToFileURL(path).href
  try {
    const imported = await import(url)
    // a file the stage imports later, as it runs (`await import('./helper.ts')`), is compiled if stripping refuses it
    const lazy = new TypeScriptCompiler(stage, true)
    registerHooks({ load: lazy.load })
    return imported
  } catch (err) {
    if (!compilingMayHelp(err)) throw err
  }
  // from now on every one of the user's TypeScript files is compiled, those imported later included
  const compiler = new TypeScriptCompiler(stage)
  registerHooks({ resolve: compiler.resolve, load: compiler.load })
  try {
    try {
      return await import(url)
    } catch (err) {
      // a file Node compiled as CommonJS (no "type" in its package.json) keeps its SyntaxError for its URL:
      // once more under URLs of their own (`?compiled`: import.meta.url and file paths are as good)
      if (!isParseError(err)) throw err
      compiler.freshUrls = true
      return await import(`${url}${COMPILED}`)
    }
  } finally {
    // its service is not kept for the worker's life: a later import() of a .ts file starts it again
    compiler.stop()
  }
}

/**
 * Stripping refused the syntax, or left in what V8 cannot parse yet (decorators: a SyntaxError) and esbuild
 * lowers. Any SyntaxError is retried: only the user's .ts files are compiled, so one in plain JavaScript
 * fails again as it was, and one in TypeScript is then told with its file, line and column.
 */
function compilingMayHelp (err: unknown): boolean {
  return isParseError(err) || (err as { code?: unknown } | null)?.code === UNSUPPORTED_SYNTAX
}

/**
 * A SyntaxError of parsing, not one thrown as a module ran (`JSON.parse` at its top level): only Node's own
 * frames on its stack, none in a file (`file://…` or `/…`). A run-time one is not retried: the module's code
 * ran, and would run again.
 */
function isParseError (err: unknown): boolean {
  return err instanceof SyntaxError && !/\n\s+at (?:.*\()?(?:file:\/\/|\/)/.test(err.stack ?? '')
}

class TypeScriptCompiler {
  private readonly stage: string
  /** Only the files Node's stripping refuses are compiled, the others are left to it (the stage itself imported as they are). */
  private readonly whereStrippingFails: boolean
  private esbuild?: Esbuild
  /** Each of the user's TypeScript files resolved under its URL with COMPILED after it. */
  freshUrls = false

  constructor (stage: string, whereStrippingFails = false) {
    this.stage = stage
    this.whereStrippingFails = whereStrippingFails
  }

  readonly resolve: ResolveHookSync = (specifier, context, nextResolve) => {
    const resolved = nextResolve(specifier, context)
    return this.freshUrls && OWN_TYPESCRIPT.test(resolved.url) && !resolved.url.includes('?') ? { ...resolved, url: `${resolved.url}${COMPILED}` } : resolved
  }

  readonly load: LoadHookSync = (url, context, nextLoad) => {
    if (!OWN_TYPESCRIPT.test(url)) return nextLoad(url, context)
    if (this.whereStrippingFails) {
      const loaded = this.strippable(url, context, nextLoad)
      if (loaded != null) return loaded
    }
    const source = this.compile(fileURLToPath(url))
    // a file compiled as the stage runs: its service is not kept (as after importStageModule's retry)
    if (this.whereStrippingFails) this.stop()
    return { format: new URL(url).pathname.endsWith('.cts') ? 'commonjs' : 'module', source, shortCircuit: true }
  }

  /**
   * What Node loads for `url` if its stripping takes it, else undefined. Node strips a file whose format it
   * detects as it loads it (and throws there); one its package.json declares a module, only after the hooks,
   * out of their reach: that one is stripped here first, to see.
   */
  private strippable (url: string, context: Parameters<LoadHookSync>[1], nextLoad: Parameters<LoadHookSync>[2]): ReturnType<LoadHookSync> | undefined {
    let loaded: ReturnType<LoadHookSync>
    try {
      loaded = nextLoad(url, context)
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === UNSUPPORTED_SYNTAX) return undefined
      throw err
    }
    if (loaded.format !== 'module-typescript' && loaded.format !== 'commonjs-typescript') return loaded
    try {
      stripQuietly(typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source))
      return loaded
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === UNSUPPORTED_SYNTAX) return undefined
      // anything else Node reports itself, as it would have, when it strips the file
      return loaded
    }
  }

  stop (): void {
    this.esbuild?.stop()
  }

  /** One file, its imports left as they are, with the requester's bundle's options (and tsconfig.json, read alike). */
  private compile (path: string): string {
    // required, not imported: a load hook is synchronous
    this.esbuild ??= createRequire(import.meta.url)('esbuild') as Esbuild
    try {
      const result = this.esbuild.buildSync({
        entryPoints: [path],
        absWorkingDir: '/',
        outfile: '/compiled.js',
        write: false,
        bundle: false,
        platform: 'node',
        target: 'node22.18',
        sourcemap: 'inline',
        sourcesContent: false,
        sourceRoot: 'file:///',
        logLevel: 'silent'
      })
      setSourceMapsSupport(true)
      return result.outputFiles[0]?.text ?? ''
    } catch (err) {
      const first = (err as Partial<BuildFailure>).errors?.[0]
      const at = first?.location
      throw new StageBundleError(this.stage, at != null ? `${path}:${at.line}:${at.column}` : path, first?.text ?? (err as Error).message, { cause: err })
    }
  }
}

/**
 * Node's stripping of `source` (throws as Node would). The API warns once a process that it is experimental:
 * that warning is this check's, not the user's code's, and would land in the agent's log from every worker, so
 * it is not emitted (Node emits it on the first call only).
 */
function stripQuietly (source: string): void {
  const emitWarning = process.emitWarning
  process.emitWarning = () => {}
  try {
    stripTypeScriptTypes(source)
  } finally {
    process.emitWarning = emitWarning
  }
}
