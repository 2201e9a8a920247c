import { it, expect } from 'vitest'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Spawner } from '../../../src/agent/spawner.ts'
import { resolveAgentConfig } from '../../../src/agent/config.ts'

const STAGE = fileURLToPath(new URL('../../fixtures/stages/plain.mjs', import.meta.url))

async function until (what: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }

it('a spawn takes a pre-started worker host (no stage loaded until then), runs its stage in it, and the pool refills; stop ends the idle hosts too', async () => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  const spawner = new Spawner(resolveAgentConfig({ workers: 2, cpu: 2, memoryMb: 1024, prestartWorkers: 1 }), pino(sink), () => {})
  spawner.start()
  try {
    await until(() => spawner.prestarted === 1)
    // idle, it holds no capacity
    expect(spawner.usage()).toEqual({ cpu: 0, memoryMb: 0, workers: 0 })
    const worker = spawner.spawn({ stage: 'double', modulePath: STAGE, resources: { cpu: 1, memoryMb: 0 } })
    expect(await worker.process(21)).toBe(42)
    expect(lines.find(l => l.msg === 'worker started')).toMatchObject({ stage: 'double', prestarted: true, pid: worker.info.pid })
    await until(() => spawner.prestarted === 1)
    // a spawn with another heap limit forks its own host
    const limited = spawner.spawn({ stage: 'double', modulePath: STAGE, resources: { cpu: 1, memoryMb: 512 } })
    expect(await limited.process(2)).toBe(4)
    expect(lines.filter(l => l.msg === 'worker started').map(l => l.prestarted)).toEqual([true, false])
    // a worker process's 'error' (a fork refused, a signal that could not be sent) is logged, never thrown
    const child = (worker as unknown as { child: import('node:child_process').ChildProcess }).child
    child.emit('error', Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' }))
    expect(lines.find(l => l.msg === 'worker process error')).toMatchObject({ worker: worker.info.id, err: { code: 'EAGAIN' } })
    expect(await worker.process(1)).toBe(2)
    const pids = [worker.info.pid, limited.info.pid]
    await spawner.stop()
    await until(() => pids.every(pid => !alive(pid)))
    expect(spawner.prestarted).toBe(0)
  } finally {
    await spawner.destroy()
  }
}, 60_000)
