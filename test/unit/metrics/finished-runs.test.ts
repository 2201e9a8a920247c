import { it, expect } from 'vitest'
import { createRegistry, MAX_FINISHED_STAGES } from '../../../src/metrics/collectors.ts'
import type { PipelineRun } from '../../../src/pipeline/run.ts'
import type { StageSummary } from '../../../src/pipeline/types.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import { parse, sum, value } from '../../integration/helpers/prom-text.ts'

/** A finished run of pipeline `name` with one stage that processed `processed` items. */
function finishedRun (name: string, processed: number, decisions = 0): PipelineRun {
  const totals: StageSummary[] = [{ name: 'work', processed, failed: 0, retried: 0, maxWorkers: 1, decisions }]
  return { name, totals: () => totals, done: Promise.resolve() } as unknown as PipelineRun
}

function registry (): ReturnType<typeof createRegistry> {
  return createRegistry({ self: () => ({ ...entry('S'), lastSeenMs: 0 }), members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => [], certificateNotAfter: () => Date.now() + 90_000, tasksOverview: emptyOverview })
}

it('finished runs add to the item counters under their pipeline and stage', async () => {
  const { registry: r, track } = registry()
  track(finishedRun('etl', 3))
  track(finishedRun('etl', 4))
  await Promise.resolve()
  expect(await r.metrics()).toContain('gridd_items_processed_total{pipeline="etl",stage="work"} 7')
})

it('the finished runs\' totals are bounded: pipelines under ever new names (a member deploys one after another) do not grow the node\'s memory or its series without end', async () => {
  const { registry: r, track } = registry()
  for (let i = 0; i < MAX_FINISHED_STAGES + 500; i++) track(finishedRun(`deploy-${i}`, 1, 2))
  await new Promise(resolve => setImmediate(resolve))
  const series = (await r.metrics()).split('\n').filter(line => line.startsWith('gridd_items_processed_total{'))
  expect(series.length).toBeLessThanOrEqual(MAX_FINISHED_STAGES)
  // the most recent are the ones kept
  expect(series.some(line => line.includes(`pipeline="deploy-${MAX_FINISHED_STAGES + 499}"`))).toBe(true)
  expect(series.some(line => line.includes('pipeline="deploy-0"'))).toBe(false)
  // the decisions of the forgotten stages stay counted under the empty label pair: the sum over labels never goes down
  const decisions = parse(await r.metrics()).filter(s => s.name === 'gridd_equalizer_decisions_total')
  expect(value(decisions, 'gridd_equalizer_decisions_total', { pipeline: '', stage: '' })).toBe(2 * 500)
  expect(sum(decisions, 'gridd_equalizer_decisions_total')).toBe(2 * (MAX_FINISHED_STAGES + 500))
})

it('equalizer decisions are counted by pipeline and stage, runs still going and finished ones added up', async () => {
  const { registry: r, track } = registry()
  track(finishedRun('etl', 3, 2))
  track(finishedRun('etl', 4, 1))
  track(finishedRun('other', 1, 5))
  const running = { name: 'etl', totals: () => [{ name: 'load', processed: 0, failed: 0, retried: 0, maxWorkers: 1, decisions: 4 }], done: new Promise(() => {}) } as unknown as PipelineRun
  track(running)
  await new Promise(resolve => setImmediate(resolve))
  const samples = parse(await r.metrics())
  expect(value(samples, 'gridd_equalizer_decisions_total', { pipeline: 'etl', stage: 'work' })).toBe(3)
  expect(value(samples, 'gridd_equalizer_decisions_total', { pipeline: 'etl', stage: 'load' })).toBe(4)
  expect(value(samples, 'gridd_equalizer_decisions_total', { pipeline: 'other', stage: 'work' })).toBe(5)
  // nothing forgotten: no empty label pair
  expect(samples.filter(s => s.name === 'gridd_equalizer_decisions_total')).toHaveLength(3)
})

it('a finished stage of a pipeline that has a run going on is not the one forgotten: its series would fall to that run\'s own totals, read by Prometheus as a counter reset', async () => {
  const { registry: r, track } = registry()
  track(finishedRun('steady', 10, 1))
  await Promise.resolve()
  // the same pipeline runs again (a deployment restarted here), then ever new names finish
  const totals: StageSummary[] = [{ name: 'work', processed: 1, failed: 0, retried: 0, maxWorkers: 1, decisions: 0 }]
  track({ name: 'steady', totals: () => totals, done: new Promise(() => {}) } as unknown as PipelineRun)
  for (let i = 0; i < MAX_FINISHED_STAGES + 10; i++) track(finishedRun(`deploy-${i}`, 1))
  await new Promise(resolve => setImmediate(resolve))
  expect(value(parse(await r.metrics()), 'gridd_items_processed_total', { pipeline: 'steady', stage: 'work' })).toBe(11)
})
