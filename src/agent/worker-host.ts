/**
 * Runs inside a worker child process: imports the stage module, runs
 * `setup` once, `process` per item, `teardown` on a graceful stop. Talks to
 * its agent over the child_process IPC channel only.
 */
import { pathToFileURL } from 'node:url'
import { toStageDefinition } from './stage.ts'
import type { StageContext } from './stage.ts'
import type { ToWorker, FromWorker } from './ipc.ts'
import { toWireError } from './wire-error.ts'

const send = (message: FromWorker): void => { process.send?.(message) }

async function main (): Promise<void> {
  const [modulePath, stage = 'stage', workerId = 'worker', envJson = '{}'] = process.argv.slice(2)
  if (modulePath == null) throw new Error('worker host: no stage module given')
  const ctx: StageContext = { stage, workerId, env: JSON.parse(envJson) as Record<string, string> }
  // the spawn's env joins the inherited one (the agent never touches its own env)
  Object.assign(process.env, ctx.env)
  const imported = await import(pathToFileURL(modulePath).href) as { default?: unknown }
  const definition = toStageDefinition(imported.default)
  await definition.setup?.(ctx)
  let stopping = false
  process.on('message', (message: ToWorker) => {
    if (message.type === 'process') {
      Promise.resolve()
        .then(() => definition.process(message.item, ctx))
        .then(value => { send({ type: 'result', id: message.id, value }) }, err => { send({ type: 'error', id: message.id, error: toWireError(err) }) })
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
