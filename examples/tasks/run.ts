/**
 * Tasks and sessions on a dev node that is its own agent: `node.run` (wait for
 * the result), a session (counts by status), a task error re-thrown with its
 * remote stack, then the same task run from the CLI by its registered name,
 * as a client would. `npm run example:tasks`
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { GridNode, TaskError } from '../../src/index.ts'

const resize = fileURLToPath(new URL('./resize.ts', import.meta.url))
const grid = fileURLToPath(new URL('../../bin/grid.js', import.meta.url))

const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, agent: { workers: 2 } })
try {
  // Argon's queue: submit and wait
  console.log('run:', await node.run(resize, { width: 1920, height: 1080, scale: 0.5 }))

  // ArmoniK's session: tasks under shared defaults, counted by status
  const session = node.session({ name: 'thumbnails', maxRetries: 1 })
  const handles = [0.1, 0.25, 2, -1].map(scale => session.submit(resize, { width: 800, height: 600, scale }))
  handles[0]!.on('progress', ({ value }) => { console.log('progress of the first:', value) })
  for (const handle of handles) {
    try {
      console.log('result:', await handle.result())
    } catch (err) {
      // the task threw on a worker: its name, message and stack (resize.ts and the line) come back
      if (!(err instanceof TaskError)) throw err
      console.log(`failed: ${err.remoteName}: ${(err.cause as Error).message} at ${/resize\.ts:\d+/.exec(err.remoteStack ?? '')?.[0] ?? '?'}`)
    }
  }
  session.close()
  await session.done
  console.log('counts:', JSON.stringify(session.counts()))

  // from anywhere: a client certificate may run only tasks registered by name
  node.tasks.register('resize', resize)
  const port = /\/tcp\/(\d+)/.exec(node.addresses[0]!)![1]!
  const { stdout } = await promisify(execFile)(process.execPath, [grid, 'task', 'run', 'resize', '--input', '{"width":640,"height":480,"scale":0.5}', '--dev', '--peer', `127.0.0.1:${port}`])
  console.log('grid task run resize:', stdout.trim())
} finally {
  await node.stop()
}
