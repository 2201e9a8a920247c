import { pino } from 'pino'
import type { GridNode } from '../../../src/node.ts'
import { GridFixture } from './grid-fixture.ts'
import type { GridProcess } from './grid-process.ts'

/**
 * A grid of one agent process (2 workers) and an owner in this process whose warnings are recorded:
 * what an operator reading the owner's log sees. The caller closes `grid`.
 */
export async function agentAndLoggedOwner (): Promise<{ grid: GridFixture, agent: GridProcess, owner: GridNode, warnings: Array<Record<string, unknown>> }> {
  const grid = await GridFixture.create(2)
  try {
    const agent = await grid.start('n1', ['--agent', '--workers', '2', '--cpu', '2'])
    const warnings: Array<Record<string, unknown>> = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line) as Record<string, unknown>) } })
    const owner = await grid.member('n2', agent, 1, { logger })
    return { grid, agent, owner, warnings }
  } catch (err) {
    await grid.close()
    throw err
  }
}
