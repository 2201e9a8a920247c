/**
 * Bundles the `grid` daemon, the worker host and the task journal's writer
 * thread into dist/bundle/ (part of `npm run build`, which `npm ci` runs as
 * `prepare`). bin/grid.js runs the bundle whenever it is at least as new as src/.
 *
 * Why a bundle: loaded as ~530 separate ES modules, libp2p and its
 * dependencies cost every idle node ~14 MB more resident memory than one
 * tree-shaken graph. Module resolution is hot enough that V8 optimizes it,
 * which pages in the JIT compilers, and each module keeps its whole source,
 * used or not. `npm run bench:spawn` prints both figures.
 * Dependencies stay installed packages for the library entry (dist/src/);
 * only these entries (two processes, one thread) inline them.
 */
import { build } from 'esbuild'
import type { Metafile } from 'esbuild'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const BUNDLE_DIR = fileURLToPath(new URL('../dist/bundle/', import.meta.url))

const root = fileURLToPath(new URL('..', import.meta.url))

/** Builds the bundle into `outdir`; what it holds (esbuild's metafile) lets a test check what `grid` loads at startup. */
export async function bundle (outdir = BUNDLE_DIR): Promise<Metafile> {
  await rm(outdir, { recursive: true, force: true })
  const result = await build({
    absWorkingDir: root,
    // the worker host sits beside every chunk, where src/agent/spawner.ts looks for it; so does the
    // task journal's writer thread, where src/tasks/journal-writer.ts looks for it
    entryPoints: { grid: 'src/cli/index.ts', 'worker-host': 'src/cli/worker-host.ts', 'journal-thread': 'src/tasks/journal-thread.ts' },
    outdir,
    bundle: true,
    // certificate tooling, metrics and the dashboard stay lazy chunks, as they are lazy imports in src/
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22.18',
    // stage shipping bundles with esbuild at run time: its JS API finds its own binary, so it stays a package
    external: ['esbuild'],
    // CommonJS dependencies (pino, commander) call require() for Node built-ins
    banner: { js: "import { createRequire as __gridCreateRequire } from 'node:module'; const require = __gridCreateRequire(import.meta.url);" },
    // whitespace and syntax only: stack traces keep their function names
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true
  })
  return result.metafile
}

if (import.meta.main) await bundle()
