import { describe, it, expect, afterEach } from 'vitest'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { eventually } from './helpers/grid-process.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'

const SCRIPT = fileURLToPath(new URL('../fixtures/durable/close-while-gone.ts', import.meta.url))

/**
 * A plain run's connectors closed while their redis-server is gone: the process must then exit by
 * itself (nothing of the connectors left holding the event loop), and no stall warning may follow
 * the close. Before, the read and the write stayed queued in ioredis for ever, and the stall
 * warning's interval with them.
 */
describe('Redis connectors closed while Redis is away', () => {
  let redisServer: RedisServer | undefined
  let child: ChildProcess | undefined

  afterEach(async () => {
    if (child != null && child.exitCode == null && child.signalCode == null) {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
    await redisServer?.stop()
  })

  it('Redis SIGKILLed, a read and a write waiting: close, then abort; the process exits by itself, with no warning after the close', async () => {
    redisServer = await startRedis()
    child = spawn(process.execPath, [SCRIPT, '--redis', redisServer.url, '--in', 'in', '--out', 'out'], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = once(child, 'exit')
    const lines: Array<{ msg: string }> = []
    let partial = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n')
      partial = parts.pop()!
      for (const part of parts) lines.push(JSON.parse(part) as { msg: string })
    })
    await eventually(() => lines.some(l => l.msg === 'ready') ? true : undefined, 20_000, 20)
    await redisServer.signal('SIGKILL')
    // the read and a write now wait for Redis: each warns of its stall (after 100-200 ms, then once a minute)
    const waiting = async (): Promise<true | undefined> => ['read', 'write'].every(kind => lines.some(l => l.msg.includes(`has not answered a ${kind}`))) ? true : undefined
    await eventually(waiting, 10_000, 20).catch((err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(lines.map(l => l.msg))}`) })
    child.stdin!.end('close\n')
    const exit = await Promise.race([exited, sleep(10_000, 'still running')])
    const closedAt = lines.findIndex(l => l.msg === 'closed')
    expect(closedAt, 'close() settled').toBeGreaterThan(-1)
    // (rate-limited, so a timer left running would rarely show here: the exit is the proof)
    expect(lines.slice(closedAt).filter(l => /has not answered/.test(l.msg)).map(l => l.msg), 'stall warnings after the close').toEqual([])
    expect(exit, 'the process exited by itself once its connectors were closed').toEqual([0, null])
    // how each ended (a connection error of the dropped client may still be logged after it)
    expect(lines.slice(closedAt).map(l => l.msg)).toContain('read fulfilled, write ERR_CONNECTOR_CLOSED')
  }, 40_000)
})
