import { describe, it, expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import { packDeployment } from '../../../src/deployments/pack.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'

const example = fileURLToPath(new URL('../../../examples/durable/pipeline.ts', import.meta.url))

describe('packDeployment: a definition file bundled where it is deployed', () => {
  it('bundles examples/durable/pipeline.ts self-contained, with its two stages, each by sha256', async () => {
    const packed = await packDeployment(example)
    expect(packed.stages.map(s => s.name)).toEqual(['split', 'price'])
    for (const m of [packed.definition, ...packed.stages]) expect(m.sha256).toBe(sha256(m.source))
    // a type-only import of gridd is erased; nothing of gridd is left to resolve on the member
    expect(packed.definition.source).not.toMatch(/from\s+["'][^"']*src\/index/)
  })

  it('refuses a file that is not there, naming it', async () => {
    await expect(packDeployment('/nonexistent/pipeline.mjs')).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('/nonexistent/pipeline.mjs') })
  })
})
