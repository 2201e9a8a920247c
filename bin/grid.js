#!/usr/bin/env -S node --max-semi-space-size=1
// The flag: a daemon idles most of its life, and a 1 MB young generation
// (V8 sizes it for throughput by default) keeps an idle node ~25 MB smaller.
//
// Runs the bundled CLI (dist/bundle/, made by `npm run build`, which `npm ci`
// runs): an idle node takes 71 MB instead of 114 MB from the TypeScript
// sources (no type stripper, one module graph; see the README's Measured).
// A checkout whose bundle is missing or older than src/ runs the sources, so
// an edit is never silently ignored.
import { readdirSync, statSync } from 'node:fs'
import { sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const bundle = new URL('../dist/bundle/grid.js', import.meta.url)
const sources = fileURLToPath(new URL('../src', import.meta.url))

/**
 * Newest modification time of a file under `dir`, in ms. Walked by hand, joining with '/': the
 * recursive readdirSync runs node:path's join and normalize for every entry, which made them hot
 * enough on a ~350-file src/ for V8 to start TurboFan during startup, paging ~7 MB more of the
 * node binary into every idle node a checkout runs (bench:spawn's idle RSS: 83 MB, 77 MB without).
 */
function newest (dir) {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = dir + '/' + entry.name
    if (entry.isDirectory()) latest = Math.max(latest, newest(path))
    else if (entry.isFile()) latest = Math.max(latest, statSync(path).mtimeMs)
  }
  return latest
}

/**
 * The bundle, unless it is missing or older than the sources (then say so: an edit must not be
 * ignored). An installed package always runs its bundle: npm stamps extracted files in no useful
 * order, and Node does not strip types under node_modules.
 */
function useBundle () {
  if (fileURLToPath(import.meta.url).split(sep).includes('node_modules')) return true
  let built
  try {
    built = statSync(bundle).mtimeMs
  } catch {
    return false // not built (npm ci --ignore-scripts): run the sources
  }
  let edited
  try {
    edited = newest(sources)
  } catch {
    return true // a package shipped without its sources
  }
  if (built >= edited) return true
  process.stderr.write('grid: dist/bundle/ is older than src/, running the sources (`npm run build` refreshes the bundle)\n')
  return false
}

/**
 * gridd needs Node >= 22.18 (node:sqlite, libp2p v3, type stripping). An older Node fails on
 * its first import with "No such built-in module: node:sqlite", which says nothing of the cause:
 * the usual one is a system Node run instead of the checkout's pinned 24 (`node bin/grid.js`, or
 * a shell where node_modules/.bin is not on PATH).
 */
function nodeTooOld () {
  const [major, minor] = process.versions.node.split('.').map(Number)
  return major < 22 || (major === 22 && minor < 18)
}

if (nodeTooOld()) {
  process.stderr.write(`grid: gridd needs Node >= 22.18, and this is Node ${process.versions.node} (${process.execPath}); ` +
    'in a checkout, `npx grid` runs the Node 24 that `npm ci` installs (node_modules/.bin/node)\n')
  process.exitCode = 2
} else {
  const { main } = useBundle() ? await import(bundle.href) : await import('../src/cli/index.ts')
  await main(process.argv)
}
