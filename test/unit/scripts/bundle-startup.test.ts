import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Metafile } from 'esbuild'
import { bundle } from '../../../scripts/bundle.ts'

/** Every source file in `entry`'s output and the chunks it imports statically: what `grid` evaluates before main runs. */
function loadedAtStartup (meta: Metafile, entry: string): string[] {
  const seen = new Set<string>()
  const visit = (output: string): void => {
    if (seen.has(output)) return
    seen.add(output)
    for (const i of meta.outputs[output]!.imports) if (i.kind === 'import-statement' && i.external !== true) visit(i.path)
  }
  visit(entry)
  return [...seen].flatMap(output => Object.keys(meta.outputs[output]!.inputs))
}

describe('the grid bundle: what an idle node loads', () => {
  const dirs: string[] = []
  afterAll(async () => { await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) })) })

  it('loads no Redis client (only a deployment run needs it) nor prom-client (only --metrics) at startup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gridd-bundle-'))
    dirs.push(dir)
    const meta = await bundle(dir)
    const entry = Object.keys(meta.outputs).find(o => o.endsWith('/grid.js'))!
    const inputs = loadedAtStartup(meta, entry)
    // the check is not vacuous: the node's own code and libp2p are there
    expect(inputs.some(i => i.endsWith('src/node.ts'))).toBe(true)
    expect(inputs.some(i => i.includes('node_modules/libp2p/'))).toBe(true)
    expect(inputs.filter(i => /node_modules\/(ioredis|@ioredis|prom-client)\//.test(i))).toEqual([])
    // still in the bundle, as a chunk loaded on demand
    expect(Object.values(meta.outputs).some(o => Object.keys(o.inputs).some(i => i.includes('node_modules/ioredis/')))).toBe(true)
  })
})
