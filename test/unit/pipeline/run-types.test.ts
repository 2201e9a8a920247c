import { it, expect, expectTypeOf } from 'vitest'
import type { GridNode, PipelineRun } from '../../../src/index.ts'

// Checked by `tsc` (vitest strips types): node.pipeline<In, Out> returned a PipelineRun with no type
// parameters, so what the run takes and what its sink gets were lost at the first variable or function
// that held the run (a helper taking PipelineRun<Row, Result> could not be written).
const etl = (node: GridNode) => node.pipeline('etl', {
  source: [1, 2, 3],
  stages: [{ name: 'square', module: './square.ts' }],
  sink: (result: string) => { void result }
})
type Run = ReturnType<typeof etl>

it('node.pipeline\'s run carries In and Out, inferred or given; a bare PipelineRun still takes any run', () => {
  expectTypeOf<Run>().toEqualTypeOf<PipelineRun<number, string>>()
  expectTypeOf<Run['push']>().parameter(0).toEqualTypeOf<number>()
  expectTypeOf<ReturnType<GridNode['pipelines']>>().toEqualTypeOf<PipelineRun[]>()
  const given = (node: GridNode): PipelineRun<{ id: string }, number[]> => node.pipeline<{ id: string }, number[]>('p', { stages: [], sink: (n) => { expectTypeOf(n).toEqualTypeOf<number[]>() } })
  const keep = (run: Run): PipelineRun => run
  // @ts-expect-error the sink gets strings: not a run whose sink gets numbers
  const wrongOut = (run: Run): PipelineRun<number, number> => run
  // @ts-expect-error the run takes numbers
  const wrongIn = async (run: Run): Promise<void> => { await run.push('one') }
  expect([etl, given, keep, wrongOut, wrongIn].every(f => typeof f === 'function')).toBe(true)
})
