import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { GridNode } from '../../src/node.ts'
import { ERR_STAGE_BUNDLE } from '../../src/errors.ts'
import { canUnshare, gridWithHiddenAgent } from './helpers/namespaced-agent.ts'
import type { HiddenAgentGrid } from './helpers/namespaced-agent.ts'

// Non-erasable TypeScript, which Node's type stripping refuses: an enum and a parameter property in a
// helper, a namespace in the stage itself. The esbuild bundle a remote agent runs always carried it.
const FILES: Record<string, string> = {
  'lib/units.ts': [
    'export enum Unit { One = 1, Kilo = 1000 }',
    'export class Scaler {',
    '  constructor (private readonly factor: number) {}',
    '  scale (n: number): number {',
    "    if (this.factor < 0) throw new RangeError('negative factor')",
    '    return n * this.factor',
    '  }',
    '}'
  ].join('\n'),
  'stage.ts': [
    "import { Unit, Scaler } from './lib/units.ts'",
    "namespace Labels { export const prefix = 'unit=' }",
    'export default function (item: number): unknown {',
    '  const factor = item < 0 ? -1 : Unit.Kilo',
    '  return { label: Labels.prefix + Unit[Unit.Kilo], value: new Scaler(factor).scale(item), url: import.meta.url }',
    '}'
  ].join('\n'),
  // plain (erasable) itself: its own import needs no compiling; the helper it imports as it runs does
  'lazy.ts': [
    'export default async function (item: number): Promise<number> {',
    "  const { Unit, Scaler } = await import('./lib/units.ts')",
    '  return new Scaler(item < 0 ? -1 : Unit.Kilo).scale(item)',
    '}'
  ].join('\n'),
  'task.mts': [
    "import { Unit } from './lib/units.ts'",
    'export default { process: (input: number): number => input * Unit.Kilo }'
  ].join('\n'),
  // decorators: erasable in name only, Node leaves them in and V8 has none yet (a SyntaxError); esbuild lowers them
  'decorated.ts': [
    'function doubled (method: (n: number) => number, _context: ClassMethodDecoratorContext): (n: number) => number {',
    '  return function (this: unknown, n: number): number { return 2 * method.call(this, n) }',
    '}',
    'class Counter { @doubled add (n: number): number { return n + 1 } }',
    'export default (item: number): number => new Counter().add(item)'
  ].join('\n'),
  // a SyntaxError thrown as it runs, not in parsing: no retry, its top-level code runs once
  'runtime-error.mjs': [
    "import { appendFileSync } from 'node:fs'",
    "appendFileSync(new URL('./ran.txt', import.meta.url), 'ran\\n')",
    "JSON.parse('{')",
    'export default (x) => x'
  ].join('\n'),
  // compiled, its helper does not parse: refused as the requester's bundle would be, naming the helper
  'broken.ts': "import { x } from './lib/bad.ts'\nenum E { A }\nexport default () => x + E.A\n",
  'lib/bad.ts': 'export const x = )\n'
}

async function writeStageFiles (dir: string, typeModule: boolean): Promise<void> {
  await mkdir(join(dir, 'lib'))
  if (typeModule) await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
  for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, name), text)
}

/** Where the files sit decides how Node loads them: a package.json with "type": "module", or none (Node detects the format). */
for (const layout of ['declared module', 'detected format'] as const) {
  describe(`a .ts stage in non-erasable syntax on the requester's own agent (${layout})`, () => {
    let dir: string
    let node: GridNode

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gridd-ts-stage-'))
      await writeStageFiles(dir, layout === 'declared module')
      node = await GridNode.start({ dev: true, host: '127.0.0.1', port: 0, stateHome: dir, agent: true, tasks: { durable: false } })
    }, 60_000)

    afterAll(async () => {
      await node?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('runs as the shipped bundle would: its own import.meta.url, stack traces naming the helper file and line', async () => {
      const stage = join(dir, 'stage.ts')
      const worker = await node.workers.spawn({ stage: 'units', module: stage })
      expect(worker.agentId).toBe(node.peerId)
      expect(await worker.process(2)).toEqual({ label: 'unit=Kilo', value: 2000, url: pathToFileURL(stage).href })
      const failure = await worker.process(-1).then(() => undefined, (err: Error) => err)
      expect(failure).toMatchObject({ name: 'RangeError', message: 'negative factor' })
      expect(failure?.stack).toContain(`${join(dir, 'lib', 'units.ts')}:5`)
      await worker.kill()
    }, 60_000)

    it('a helper in non-erasable syntax that a plain stage imports as it runs (dynamic import()) is compiled too', async () => {
      const worker = await node.workers.spawn({ stage: 'lazy', module: join(dir, 'lazy.ts') })
      try {
        expect(await worker.process(3)).toBe(3000)
        const failure = await worker.process(-1).then(() => undefined, (err: Error) => err)
        expect(failure).toMatchObject({ name: 'RangeError', message: 'negative factor' })
        expect(failure?.stack).toContain(`${join(dir, 'lib', 'units.ts')}:5`)
      } finally {
        await worker.kill()
      }
    }, 60_000)

    it('runs a stage with decorators (a SyntaxError to Node, lowered by esbuild as in the bundle)', async () => {
      const worker = await node.workers.spawn({ stage: 'decorated', module: join(dir, 'decorated.ts') })
      expect(await worker.process(4)).toBe(10)
      await worker.kill()
    }, 60_000)

    it('a SyntaxError thrown as the module runs (JSON.parse at its top level) is not retried: its code ran once', async () => {
      const worker = await node.workers.spawn({ stage: 'runtime-error', module: join(dir, 'runtime-error.mjs') })
      const exit = await worker.exited
      expect(exit).toMatchObject({ setupFailed: true, error: { name: 'SyntaxError' } })
      expect(await readFile(join(dir, 'ran.txt'), 'utf8')).toBe('ran\n')
    }, 60_000)

    it('runs as a task module (node.run uses the same worker host)', async () => {
      expect(await node.run(join(dir, 'task.mts'), 3)).toBe(3000)
    }, 60_000)

    it('a helper esbuild cannot compile either fails the worker\'s setup with StageBundleError naming it', async () => {
      const worker = await node.workers.spawn({ stage: 'broken', module: join(dir, 'broken.ts') })
      const exit = await worker.exited
      expect(exit).toMatchObject({ setupFailed: true, error: { code: ERR_STAGE_BUNDLE } })
      expect(exit.error?.message).toContain(`${join(dir, 'lib', 'bad.ts')}:1:`)
    }, 60_000)
  })
}

describe.skipIf(!canUnshare)('the same stage shipped to an agent that has none of its files', () => {
  let dir: string
  let hidden: HiddenAgentGrid

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-ts-stage-'))
    await writeStageFiles(dir, true)
    hidden = await gridWithHiddenAgent([dir])
  }, 60_000)

  afterAll(async () => {
    await hidden?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('gives what the requester\'s own agent gives (but import.meta.url, the bundle\'s)', async () => {
    const worker = await hidden.member.workers.spawn({ stage: 'units', module: join(dir, 'stage.ts') })
    expect(worker.agentId).not.toBe(hidden.member.peerId)
    expect(await worker.process(2)).toMatchObject({ label: 'unit=Kilo', value: 2000 })
    const failure = await worker.process(-1).then(() => undefined, (err: Error) => err)
    expect(failure?.stack).toContain(`${join(dir, 'lib', 'units.ts')}:5`)
    await worker.kill()
  }, 60_000)
})
