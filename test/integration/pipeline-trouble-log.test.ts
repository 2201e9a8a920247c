import { it, expect, onTestFinished } from 'vitest'
import { fileURLToPath } from 'node:url'
import { agentAndLoggedOwner } from './helpers/logged-owner.ts'

const POISON = fileURLToPath(new URL('../fixtures/stages/poison.mjs', import.meta.url))

// Items failing for good and workers dying were only events and counters: the owner's log said
// nothing while a stage killed its worker on every attempt of an item and the item was given up.
it('the pipeline owner logs a failed item and a lost worker once each, with how many more since, not one line each', async () => {
  const { grid, agent, owner, warnings } = await agentAndLoggedOwner()
  onTestFinished(async () => { await grid.close() })
  // item 13 kills its worker: twice (the second time alone), then it fails as a poison item
  const run = owner.pipeline('troubled', { source: Array.from({ length: 20 }, (_, i) => i + 1), stages: [{ name: 'poison', module: POISON, minWorkers: 1, maxWorkers: 1 }], sink: () => {}, maxAttempts: 3 })
  const summary = await run.done
  expect(summary.failed).toBe(1)
  const failed = warnings.filter(l => /an item failed/.test(String(l.msg)))
  const lost = warnings.filter(l => /worker lost on agent/.test(String(l.msg)))
  expect(failed).toHaveLength(1)
  expect(failed[0]).toMatchObject({ pipeline: 'troubled', stage: 'poison', error: { code: 'ERR_POISON_ITEM' } })
  expect(failed[0]!.msg).toMatch(/^stage "poison": an item failed for good \(PoisonItemError: /)
  // the first loss at once, the next ones within the minute only counted
  expect(lost).toHaveLength(1)
  expect(lost[0]).toMatchObject({ pipeline: 'troubled', stage: 'poison', agent: agent.peerId })
})
