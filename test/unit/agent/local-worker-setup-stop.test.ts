import { it, expect, beforeAll, afterAll } from 'vitest'
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalWorker } from '../../../src/agent/local-worker.ts'

/** A worker child still in its setup: it never says ready. */
const IN_SETUP_CHILD = 'setInterval(() => {}, 60_000)\n'

const children: ChildProcess[] = []
let dir = ''
let file = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gridd-setup-stop-'))
  file = join(dir, 'child.mjs')
  await writeFile(file, IN_SETUP_CHILD)
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function inSetup (agentStopping: () => boolean): LocalWorker {
  const child = fork(file, [], { serialization: 'advanced', stdio: 'ignore' })
  children.push(child)
  return new LocalWorker(child, { id: 'w-000000000001', stage: 's', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000001', stage: 's', modulePath: file, env: {}, concurrency: 1, watchdog: false }, agentStopping)
}

it('a worker in setup that a signal to its agent\'s process group ended is stopped, even if the agent hears its exit first', async () => {
  let agentStopping = false
  const worker = inSetup(() => agentStopping)
  // the race of a signal to the whole group: the worker's exit reaches the agent before the agent's own signal handler runs
  children.at(-1)!.once('exit', () => { setTimeout(() => { agentStopping = true }, 20) })
  process.kill(worker.info.pid, 'SIGTERM')
  const exit = await worker.exited
  expect(exit).toMatchObject({ signal: 'SIGTERM', stopped: true })
  expect(exit.setupFailed).toBeUndefined()
})

it('a worker in setup ended by a stop request while its agent is not stopping failed its setup (a setup that SIGTERMs itself)', async () => {
  const worker = inSetup(() => false)
  process.kill(worker.info.pid, 'SIGTERM')
  const exit = await worker.exited
  expect(exit).toMatchObject({ signal: 'SIGTERM', setupFailed: true })
  expect(exit.stopped).toBeUndefined()
})

it('a worker in setup that its stopping agent\'s group was signalled with is stopped', async () => {
  const worker = inSetup(() => true)
  process.kill(worker.info.pid, 'SIGINT')
  expect(await worker.exited).toMatchObject({ signal: 'SIGINT', stopped: true })
})
