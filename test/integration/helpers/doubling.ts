import { expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../../src/node.ts'

/** A stage with no imports that doubles a number (what a shipped module usually looks like). */
export const PLAIN_STAGE = fileURLToPath(new URL('../../fixtures/stages/plain.mjs', import.meta.url))

/** Runs `count` numbers through the plain doubling stage on `owner`'s grid; resolves once every one arrived doubled exactly once. */
export async function runDoubling (owner: GridNode, name: string, count: number, minWorkers: number): Promise<void> {
  const out = new Map<number, number>()
  const source = Array.from({ length: count }, (_, i) => i + 1)
  const run = owner.pipeline(name, {
    source,
    stages: [{ name: 'double', module: PLAIN_STAGE, minWorkers }],
    sink: v => { out.set(v as number, (out.get(v as number) ?? 0) + 1) },
    equalize: false
  })
  expect(await run.done).toMatchObject({ in: count, out: count, failed: 0 })
  expect([...out.keys()].sort((a, b) => a - b)).toEqual(source.map(n => n * 2))
  expect([...out.values()].every(times => times === 1)).toBe(true)
}
