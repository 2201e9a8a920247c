import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { GRID_BIN, runGrid } from './helpers/grid-process.ts'

const SQUARE = fileURLToPath(new URL('../fixtures/tasks/square.mjs', import.meta.url))

/**
 * `grid task wait` through a member while the task's durable owner stops gracefully (SIGTERM). The wait was
 * answered "cancelled" (the stop's cancel, never journaled): the CLI printed "ended cancelled … the node is
 * stopping", and the restarted owner ran the task all the same. The owner comes back here only after the
 * CLI's --owner-wait (tasks-wait-restart.test.ts has it back in time).
 */
describe('a durable owner stopped gracefully during grid task wait (real nodes)', () => {
  let grid: GridFixture
  let owner: GridProcess
  let relay: GridProcess

  // no agent in this grid: the owner's task stays queued, open, across the stop
  // at debug it logs each wait it holds
  const startOwner = async (): Promise<GridProcess> => await grid.start('n1', ['--data-dir', join(grid.dir, 'owner-data'), '--task', `square=${SQUARE}`, '--log-level', 'debug'])

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    owner = await startOwner()
    relay = await grid.start('n2', ['--peer', owner.address])
  }, 60_000)
  afterAll(async () => { await grid?.close() })

  it('the wait says the task is not final and its owner runs it when it starts again (exit 1, the owner not back within --owner-wait); the restarted owner holds it queued', async () => {
    const submitted = await runGrid(['task', 'submit', 'square', '--input', '4', '--peer', owner.address, '--certs', grid.dir])
    expect(submitted.code).toBe(0)
    const id = submitted.stdout.trim()

    const since = owner.mark()
    const cli = spawn(process.execPath, [GRID_BIN, 'task', 'wait', id, '--peer', relay.address, '--certs', grid.dir, '--owner-wait', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    cli.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const exited = once(cli, 'exit')
    try {
      // its wait relayed to the owner and held there (a stop answers it; one still in transit may be dropped)
      await owner.waitFor(line => line.msg === 'tasks wait: waiting for the task to be final' && line.task === id, 30_000, since)
      expect(cli.exitCode).toBeNull()
      expect(await owner.stop('SIGTERM')).toBe(0)
      const [code] = await exited as [number]
      expect(stderr).not.toContain('ended cancelled')
      expect(stderr).toContain('owner node stopped; waiting for it to return')
      // what the last attempt met: the member could not reach the owner (it said "the owner is stopping" whatever came after)
      expect(stderr).toContain(`task ${id} is not final: its owner stopped and was not reached again within --owner-wait 1000 ms (last attempt: `)
      expect(stderr).toContain(`the owner runs it when it starts again: \`grid task wait ${id}\` follows it then`)
      expect(code).toBe(1)
    } finally {
      if (cli.exitCode == null) cli.kill('SIGKILL')
    }

    owner = await startOwner()
    const got = await runGrid(['task', 'get', id, '--peer', owner.address, '--certs', grid.dir])
    expect(got.code).toBe(0)
    expect(JSON.parse(got.stdout)).toMatchObject({ id, status: 'queued' })
  }, 60_000)
})
