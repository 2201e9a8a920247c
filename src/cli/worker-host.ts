/**
 * The worker child's program (like the CLI, it owns its process: exit codes,
 * the environment, the IPC channel). Runs inside a worker child process: imports the stage module, runs
 * `setup` once, `process` per item, `teardown` on a graceful stop. Talks to
 * its agent over the child_process IPC channel only.
 */
import { pathToFileURL } from 'node:url'
import { toStageDefinition } from '../worker/stage.ts'
import { prepareShippedModule } from '../worker/shipped-module.ts'
import type { StageContext } from '../worker/stage.ts'
import type { ToWorker, FromWorker, WorkerResult } from '../worker/ipc.ts'
import { Batcher } from '../wire/batcher.ts'
import { toWireError } from '../wire/wire-error.ts'
import { watchParent } from '../worker/parent-watchdog.ts'

// first thing: a worker never outlives its agent, even while its main thread is busy
watchParent()

const send = (message: FromWorker): void => { process.send?.(message) }

async function main (): Promise<void> {
  const [modulePath, stage = 'stage', workerId = 'worker', envJson = '{}', concurrencyText = '1', shippedFromJson] = process.argv.slice(2)
  // items beyond `concurrency` wait here in arrival order (the owner's credit window bounds them)
  const concurrency = Math.max(1, Number(concurrencyText) || 1)
  if (modulePath == null) throw new Error('worker host: no stage module given')
  const ctx: StageContext = { stage, workerId, env: JSON.parse(envJson) as Record<string, string> }
  // the spawn's env joins the inherited one (the agent never touches its own env)
  Object.assign(process.env, ctx.env)
  if (shippedFromJson != null) prepareShippedModule(modulePath, JSON.parse(shippedFromJson) as string[])
  const imported = await import(pathToFileURL(modulePath).href) as { default?: unknown }
  const definition = toStageDefinition(imported.default)
  await definition.setup?.(ctx)
  let stopping = false
  const results = new Batcher<WorkerResult>(batch => { send({ type: 'results', results: batch }) })
  let running = 0
  const waiting: Array<{ id: number, item: unknown }> = []
  const pump = (): void => {
    while (running < concurrency && waiting.length > 0) {
      const next = waiting.shift()!
      running++
      Promise.resolve()
        .then(() => definition.process(next.item, ctx))
        .then(value => { results.push({ id: next.id, value }) }, err => { results.push({ id: next.id, error: toWireError(err) }) })
        .finally(() => { running--; pump() })
    }
  }
  process.on('message', (message: ToWorker) => {
    if (message.type === 'batch') {
      waiting.push(...message.items)
      pump()
    } else if (message.type === 'stop' && !stopping) {
      stopping = true
      Promise.resolve(definition.teardown?.(ctx))
        .catch(err => { send({ type: 'fatal', error: toWireError(err) }) })
        .finally(() => { process.disconnect?.() })
    }
  })
  // the agent went away: nothing left to work for
  process.on('disconnect', () => { process.exit(0) })
  send({ type: 'ready' })
}

process.on('uncaughtException', err => {
  send({ type: 'fatal', error: toWireError(err) })
  process.exitCode = 70
  setImmediate(() => process.exit(70))
})

main().catch(err => {
  send({ type: 'fatal', error: toWireError(err) })
  setImmediate(() => process.exit(71))
})
