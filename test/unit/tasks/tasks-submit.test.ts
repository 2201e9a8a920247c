import { it, expect } from 'vitest'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { FakeWorker, silent } from '../pipeline/fake-worker.ts'
import { checkModulePath } from '../../../src/owner/module-source.ts'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { pathToFileURL } from 'node:url'

it('a submit its service cannot queue (a file URL naming another host) throws and leaves no task open: the session is done once closed, and cancelling it throws nowhere', async () => {
  const tasks = new Tasks('owner', { spawn: async () => new FakeWorker('task:x.mjs'), capacity: (_r, limit) => limit, log: silent }, { durable: false })
  await tasks.start()
  try {
    const session = tasks.session()
    expect(() => session.submit('file://elsewhere/x.mjs', 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_FILE_URL_HOST' }))
    expect(session.counts()).toMatchObject({ queued: 0 })
    // a cancel of a task left queued asked its pool's key of the same module, and threw in a promise nobody awaits
    session.cancel()
    await new Promise(resolve => setImmediate(resolve))
    const done = await Promise.race([session.done.then(() => 'done'), new Promise(resolve => setTimeout(() => { resolve('still open') }, 500))])
    expect(done).toBe('done')
  } finally {
    await tasks.stop()
  }
})

it('a stopped Tasks refuses new work with NodeStoppedError (not a SessionClosedError about the default session, nor a session nothing will run)', async () => {
  const tasks = new Tasks('owner', { spawn: async () => new FakeWorker('task:x.mjs'), capacity: (_r, limit) => limit, log: silent }, { durable: false })
  await tasks.start()
  await tasks.stop()
  const stopped = expect.objectContaining({ code: 'ERR_NODE_STOPPED' })
  expect(() => tasks.submit('x.mjs', 1)).toThrow(stopped)
  expect(() => tasks.session()).toThrow(stopped)
  await expect(tasks.run('x.mjs', 1)).rejects.toThrow(stopped)
})

it('register and configure refuse bad input at the call: a module that is not a path or URL, an unknown setting, bad resources', () => {
  const tasks = new Tasks('owner', { spawn: async () => new FakeWorker('task:x.mjs'), capacity: (_r, limit) => limit, log: silent }, { durable: false })
  const configError = (option: string): unknown => expect.objectContaining({ code: 'ERR_CONFIG', option })
  expect(() => { tasks.register('resize', 5 as never) }).toThrow(configError('module'))
  expect(() => { tasks.configure('x.mjs', { maxWorker: 3 } as never) }).toThrow(configError('maxWorker'))
  expect(() => { tasks.configure('x.mjs', { resources: { cpu: -1 } }) }).toThrow(configError('resources.cpu'))
  expect(() => { tasks.configure('x.mjs', { resources: { cpus: 2 } } as never) }).toThrow(configError('resources.cpus'))
  expect(() => { tasks.configure(5 as never, {}) }).toThrow(configError('module'))
})

it('a task module that does not exist is refused at the call with the ConfigError a pipeline\'s stage gets, no task made (run, submit, a session\'s submit)', async () => {
  const tasks = new Tasks('owner', { spawn: async () => new FakeWorker('task:x.mjs'), capacity: (_r, limit) => limit, log: silent }, { durable: false })
  await tasks.start()
  try {
    const missing = join(tmpdir(), `gridd-missing-${process.pid}.mjs`)
    // what node.pipeline's run fails with for such a stage (its placement's check of the module)
    const pipelines = await checkModulePath(missing).catch((err: unknown) => err)
    expect(pipelines).toMatchObject({ code: 'ERR_CONFIG', option: 'module', message: expect.stringContaining(`cannot read stage module ${missing}`) })
    const same = expect.objectContaining({ code: 'ERR_CONFIG', option: 'module', message: (pipelines as Error).message })
    // it was ERR_TASK_FAILED, its cause the ConfigError, once its pool looked for the file
    expect(() => tasks.submit(missing, 1)).toThrow(same)
    await expect(tasks.run(missing, 1)).rejects.toThrow(same)
    await expect(tasks.run(pathToFileURL(missing), 1)).rejects.toThrow(same)
    const session = tasks.session()
    expect(() => session.submit(missing, 1)).toThrow(same)
    expect(session.counts()).toEqual(expect.objectContaining({ queued: 0, failed: 0 }))
    expect(tasks.sessions().flatMap(s => s.tasks())).toEqual([])
  } finally {
    await tasks.stop()
  }
})
