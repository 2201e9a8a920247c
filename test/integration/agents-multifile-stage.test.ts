import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, mkdir, rm, readdir, writeFile, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StageBundleError } from '../../src/errors.ts'
import { canUnshare, gridWithHiddenAgent } from './helpers/namespaced-agent.ts'
import type { HiddenAgentGrid } from './helpers/namespaced-agent.ts'

const REPO = fileURLToPath(new URL('../..', import.meta.url))

// A stage split over three files (entry .ts, a .ts helper in a subfolder, an .mjs helper) and one
// package import, which the agent resolves from its own working directory (the repo's node_modules).
const FILES: Record<string, string> = {
  'stage.ts': [
    "import * as v from 'valibot'",
    "import { twice } from './lib/twice.ts'",
    "import { plus } from './plus.mjs'",
    'const schema = v.number()',
    'export default function (item: unknown): number {',
    '  return plus(twice(v.parse(schema, item)), 1)',
    '}'
  ].join('\n'),
  'lib/twice.ts': [
    'export function twice (n: number): number {',
    "  if (n < 0) throw new RangeError('negative: ' + n)",
    '  return n * 2',
    '}'
  ].join('\n'),
  'plus.mjs': 'export const plus = (a, b) => a + b\n',
  'broken.ts': "import { nothing } from './missing.ts'\nexport default () => nothing\n"
}

describe.skipIf(!canUnshare)('a multi-file stage shipped to an agent that has none of its files', () => {
  let moduleDir: string
  let hidden: HiddenAgentGrid

  beforeAll(async () => {
    moduleDir = await mkdtemp(join(tmpdir(), 'gridd-multifile-'))
    await mkdir(join(moduleDir, 'lib'))
    for (const [name, text] of Object.entries(FILES)) await writeFile(join(moduleDir, name), text)
    hidden = await gridWithHiddenAgent([moduleDir], REPO)
  })

  afterAll(async () => {
    await hidden?.close()
    await rm(moduleDir, { recursive: true, force: true })
  })

  it('runs it from one shipped bundle; errors name the helper file; an edited helper ships a new bundle', async () => {
    const { member, dataDir, agent } = hidden
    const entry = join(moduleDir, 'stage.ts')
    const worker = await member.workers.spawn({ stage: 'multi', module: entry })
    expect(await worker.process(20)).toBe(41)
    // the remote stack is mapped back to the requester's helper file and line
    const failure = await worker.process(-1).then(() => undefined, (err: Error) => err)
    expect(failure).toMatchObject({ name: 'RangeError', message: 'negative: -1' })
    expect(failure?.stack).toContain(`${join(moduleDir, 'lib', 'twice.ts')}:2`)
    await expect(worker.process('x')).rejects.toMatchObject({ name: 'ValiError' })
    await worker.kill()
    const first = await readdir(join(dataDir, 'modules'))
    expect(first).toHaveLength(1)
    expect(first[0]).toMatch(/^[0-9a-f]{64}\.mjs$/)

    await writeFile(join(moduleDir, 'plus.mjs'), 'export const plus = (a, b) => a + b + 100\n')
    const later = new Date(Date.now() + 5_000)
    await utimes(join(moduleDir, 'plus.mjs'), later, later)
    const edited = await member.workers.spawn({ stage: 'multi', module: entry })
    expect(await edited.process(20)).toBe(141)
    await edited.kill()
    expect(await readdir(join(dataDir, 'modules'))).toHaveLength(2)
    expect(agent.lines.filter(l => l.msg === 'spawned for a remote requester')).toHaveLength(2)
  })

  it('a relative import that does not resolve: StageBundleError naming the stage and the importing file', async () => {
    const err = await hidden.member.workers.spawn({ stage: 'broken', module: join(moduleDir, 'broken.ts') }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StageBundleError)
    expect(err).toMatchObject({ code: 'ERR_STAGE_BUNDLE', stage: 'broken', file: `${join(moduleDir, 'broken.ts')}:1:24` })
    expect((err as Error).message).toContain('./missing.ts')
  })
})
