import { extname } from 'node:path'
import { ModuleMissingError, SpawnRefusedError } from '../errors.ts'
import { MODULE_EXTENSIONS } from '../wire/module-ref.ts'
import type { ModuleRef } from '../wire/module-ref.ts'
import { ModuleCache } from './module-cache.ts'
import { moduleInDirs, resolveModuleDirs } from './module-dirs.ts'
import { ownPackageRoots } from './package-roots.ts'
import type { Logger } from '../logger.ts'

const MB = 1024 * 1024

/** A stage module ready to import, held (not evicted) until its worker is gone. */
export interface LocatedModule {
  path: string
  /** `module-dir`: a deployed file run in place; `shipped`: sent with this request; `cached`: a bundle sent before. */
  from: 'module-dir' | 'shipped' | 'cached'
  /** For a bundle: the only directories whose node_modules its bare imports resolve from. */
  packageRoots?: string[]
  /** Its worker is gone. */
  release: () => void
  /** Its spawn was refused: a bundle this request wrote is removed again. */
  discard: () => Promise<void>
}

export interface StageModulesInit {
  moduleDirs: string[]
  moduleCacheMb: number
  /** Where bare imports of bundles resolve from; default the process's working directory (and gridd's own packages). */
  cwd: string
}

/**
 * What an agent may run for a requester: bundles from its content-addressed cache (shipped by
 * requesters), or files in the allowed module dirs. Never any other file a requester names.
 */
export class StageModules {
  private readonly init: StageModulesInit
  private readonly log: Logger
  private readonly dataDir: string
  private cache?: ModuleCache
  private dirs: string[] = []
  private roots: string[] = []

  constructor (dataDir: string, init: StageModulesInit, log: Logger) {
    this.dataDir = dataDir
    this.init = init
    this.log = log
  }

  /** The cache dir: readable by `readerGid` (the worker user's group), written only by the agent. */
  async start ({ readerGid }: { readerGid?: number } = {}): Promise<void> {
    this.dirs = await resolveModuleDirs(this.init.moduleDirs)
    this.roots = await ownPackageRoots(this.init.cwd)
    this.cache = new ModuleCache(this.dataDir, { quotaBytes: this.init.moduleCacheMb * MB, readerGid }, this.log)
    await this.cache.start()
    this.log.debug({ moduleDirs: this.dirs, packageRoots: this.roots }, 'stage modules: where they may come from')
  }

  get cacheDir (): string {
    return this.started().dir
  }

  /** Bytes of shipped bundles the cache holds, in whole blocks as its quota counts them (0 before the start). */
  get cacheBytes (): number {
    return this.cache?.bytes ?? 0
  }

  get moduleDirs (): string[] {
    return this.dirs
  }

  /**
   * The module a spawn request names: in an allowed module dir (run in place), else the cached
   * bundle with its hash, else the source sent with the request (stored now: call this only once
   * the spawn's capacity check has passed). ModuleMissingError when none: the requester ships it.
   */
  async locate (ref: ModuleRef): Promise<LocatedModule> {
    const cache = this.started()
    if (!MODULE_EXTENSIONS.has(extname(ref.path)) || !/^[0-9a-f]{64}$/.test(ref.sha256)) throw new SpawnRefusedError('invalid module reference')
    const local = await moduleInDirs(ref.path, this.dirs)
    if (local != null) return { path: local, from: 'module-dir', release: () => {}, discard: async () => {} }
    const held = { release: () => { cache.release(ref.sha256) }, discard: async () => { cache.release(ref.sha256) } }
    const cached = await cache.acquire(ref.sha256)
    if (cached != null) return { path: cached, from: 'cached', packageRoots: this.roots, ...held }
    if (ref.source == null) throw new ModuleMissingError(ref.sha256)
    const stored = await cache.store(ref.sha256, ref.source)
    return {
      path: stored.path,
      from: 'shipped',
      packageRoots: this.roots,
      release: held.release,
      discard: stored.created ? async () => { await cache.discard(ref.sha256) } : held.discard
    }
  }

  private started (): ModuleCache {
    if (this.cache == null) throw new SpawnRefusedError('the agent is not started')
    return this.cache
  }
}
