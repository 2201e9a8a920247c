/**
 * The worker child's program (like the CLI, it owns its process: exit codes,
 * the environment, the IPC channel). Runs inside a worker child process: imports the stage module, runs
 * `setup` once, `process` per item, `teardown` on a graceful stop. Talks to
 * its agent over the child_process IPC channel only.
 */
import { toStageDefinition } from '../worker/stage.ts'
import { prepareShippedModule } from '../worker/shipped-module.ts'
import { importStageModule } from '../worker/typescript-fallback.ts'
import type { StageContext } from '../worker/stage.ts'
import type { ToWorker, FromWorker, WorkerOutput, WorkerStart } from '../worker/ipc.ts'
import { ItemRunner } from '../worker/item-runner.ts'
import { Batcher } from '../wire/batcher.ts'
import { toWireError } from '../wire/wire-error.ts'
import { watchParent } from '../worker/parent-watchdog.ts'
import { sendOutputs } from '../worker/send-outputs.ts'


const send = (message: FromWorker): void => { process.send?.(message) }

async function main (): Promise<void> {
  const start = await startMessage()
  // before the stage loads: a worker never outlives its agent, even while its main thread is busy (the
  // agent started it through `setpriv --pdeathsig KILL` where it could; otherwise a watchdog thread)
  if (start.watchdog) watchParent()
  // items beyond `concurrency` wait here in arrival order (the owner's credit window bounds them)
  const concurrency = Math.max(1, start.concurrency)
  const ctx: StageContext = { stage: start.stage, workerId: start.workerId, env: start.env }
  // the spawn's env joins the allowlisted one the agent started this process with, before the stage loads
  Object.assign(process.env, start.env)
  const modulePath = start.modulePath
  if (start.shippedFrom != null) prepareShippedModule(modulePath, start.shippedFrom)
  const imported = await importStageModule(modulePath, start.stage) as { default?: unknown }
  const definition = toStageDefinition(imported.default)
  await definition.setup?.(ctx)
  let stopping = false
  // an output the IPC serializer cannot take fails alone (its item's error), never the worker
  const results = new Batcher<WorkerOutput>(batch => { sendOutputs(batch, outputs => { send({ type: 'results', results: outputs }) }) })
  const runner = new ItemRunner(definition, ctx, concurrency, (output, now) => {
    results.push(output)
    if (now === true) results.drain()
  })
  process.on('message', (message: ToWorker) => {
    if (message.type === 'batch') {
      runner.accept(message.items)
    } else if (message.type === 'cancel') {
      runner.cancel(message.ids)
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

/**
 * The agent's first message says what to run (never argv: `ps` shows a command line to every user).
 * It may come at once, or much later to a host the agent started ahead of need: until then the
 * host says it is loaded, and leaves with its agent (no stage is loaded yet, so nothing busies it).
 */
async function startMessage (): Promise<WorkerStart> {
  const leave = (): void => { process.exit(0) }
  process.once('disconnect', leave)
  send({ type: 'hosted' })
  return await new Promise(resolve => {
    const onMessage = (message: ToWorker): void => {
      if (message.type === 'start') {
        process.off('message', onMessage)
        process.off('disconnect', leave)
        resolve(message.start)
      } else if (message.type === 'stop') {
        // stopped before it started: nothing to tear down
        process.disconnect?.()
      }
    }
    process.on('message', onMessage)
  })
}

main().catch(err => {
  send({ type: 'fatal', error: toWireError(err) })
  setImmediate(() => process.exit(71))
})
