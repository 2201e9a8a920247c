import { it, expect, onTestFinished } from 'vitest'
import { fileURLToPath } from 'node:url'
import { agentAndLoggedOwner } from './helpers/logged-owner.ts'
import { eventually } from './helpers/grid-process.ts'

const COOPERATIVE = fileURLToPath(new URL('../fixtures/tasks/cooperative.mjs', import.meta.url))

// An agent SIGKILLed under running tasks: the owner retried them and logged nothing (only
// gridd_task_retries_total moved), so an operator reading the owner's log saw no cause.
it('the task owner logs one warning naming the lost worker and its agent when an agent dies under its tasks', async () => {
  const { grid, agent, owner, warnings } = await agentAndLoggedOwner()
  onTestFinished(async () => { await grid.close() })
  const session = owner.session({ name: 'lost', maxRetries: 1 })
  const tasks = [1, 2].map(() => session.submit(COOPERATIVE, { ms: 60_000 }))
  for (const task of tasks) task.result().catch(() => {})
  await eventually(() => tasks.some(t => t.status === 'running') ? true : undefined, 20_000)
  await agent.stop('SIGKILL')
  const lostLines = (): Array<Record<string, unknown>> => warnings.filter(l => String(l.msg).startsWith('task worker lost'))
  await eventually(() => lostLines().length > 0 ? true : undefined, 15_000, 100)
  // both tasks' failures are in by now (the agent is failed): no further line comes for them
  await eventually(() => tasks.every(t => t.status !== 'running') ? true : undefined, 15_000, 100)
  const lost = lostLines()
  // the agent's loss marks its other workers gone: one line for the agent, not one per task
  expect(lost).toHaveLength(1)
  expect(lost[0]!.agent).toBe(agent.peerId)
  expect(lost[0]!.stage).toBe('task:cooperative.mjs')
  expect(lost[0]!.msg).toMatch(/its tasks are tried again, or fail once out of retries/)
})
