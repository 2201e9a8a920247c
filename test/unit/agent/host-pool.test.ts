import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest'
import { EventEmitter } from 'node:events'
import type { ChildProcess } from 'node:child_process'
import { HostPool, REFILL_DELAY_MS } from '../../../src/agent/host-pool.ts'
import type { PooledHost } from '../../../src/agent/host-pool.ts'

/** A stand-in for a forked worker host: says it is loaded when told to, exits when killed. */
class FakeHost extends EventEmitter {
  exitCode: number | null = null
  connected = true
  killed: string[] = []
  kill (signal: string): boolean {
    this.killed.push(signal)
    this.exit()
    return true
  }

  loaded (): void { this.emit('message', { type: 'hosted' }) }
  exit (): void {
    if (this.exitCode != null) return
    this.exitCode = 0
    this.connected = false
    this.emit('exit', 0, null)
  }
}

describe('HostPool', () => {
  let forked: Array<{ host: FakeHost, memoryMb: number }>
  let pool: HostPool
  let forkErrors: unknown[]
  const forker = (memoryMb: number): PooledHost => {
    const host = new FakeHost()
    forked.push({ host, memoryMb })
    return { id: `w-${String(forked.length).padStart(12, '0')}`, child: host as unknown as ChildProcess, pid: 1000 + forked.length, memoryMb }
  }
  /** Lets the pool's awaits run, then says every forked host has loaded. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(0)
      for (const f of forked) f.host.loaded()
    }
  }

  const started = (size: number): void => {
    pool = new HostPool(size, forker, err => { forkErrors.push(err) })
    pool.start()
  }
  /** How many hosts were forked after `ms` more. */
  const forksAfter = async (ms: number): Promise<number> => {
    await vi.advanceTimersByTimeAsync(ms)
    return forked.length
  }
  /** A pool of `size`, started, every host it forked loaded. */
  const filled = async (size: number): Promise<void> => {
    started(size)
    await settle()
  }

  beforeEach(() => {
    vi.useFakeTimers()
    forked = []
    forkErrors = []
  })
  afterEach(() => {
    pool.stop()
    vi.useRealTimers()
  })

  it('fills to its size one host at a time, each once the one before has loaded', async () => {
    started(3)
    expect([await forksAfter(0), await forksAfter(1000)]).toEqual([1, 1])
    forked[0]!.host.loaded()
    expect(await forksAfter(0)).toBe(2)
    await settle()
    expect(forked.length).toBe(3)
    expect(pool.ready).toBe(3)
  })

  it('a fork that throws is reported, not swallowed, and tried again after the next take', async () => {
    let failing = true
    pool = new HostPool(1, memoryMb => {
      if (failing) throw new Error('spawn EAGAIN')
      return forker(memoryMb)
    }, err => { forkErrors.push(err) })
    pool.start()
    await vi.advanceTimersByTimeAsync(1000)
    expect(forkErrors.map(e => (e as Error).message)).toEqual(['spawn EAGAIN'])
    expect(forked.length).toBe(0)
    failing = false
    expect(pool.take(0)).toBeUndefined()
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS)
    await settle()
    expect(pool.ready).toBe(1)
    expect(forkErrors.length).toBe(1)
  })

  it('a take gets an idle host at once, and the refill waits until the takes of one decision are done', async () => {
    await filled(2)
    const first = pool.take(0)
    const second = pool.take(0)
    expect([first?.pid, second?.pid]).toEqual([1001, 1002])
    expect(pool.take(0)).toBeUndefined()
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS - 1)
    expect(forked.length).toBe(2)
    await vi.advanceTimersByTimeAsync(1)
    await settle()
    expect(forked.length).toBe(4)
    expect(pool.ready).toBe(2)
  })

  it('takes only a host of the spawn\'s heap limit, and refills in the shape of the last spawn', async () => {
    await filled(1)
    expect(pool.take(512)).toBeUndefined()
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS)
    await settle()
    // the host without a limit was killed: spawns now ask for 512 MB
    expect(forked[0]!.host.killed).toEqual(['SIGKILL'])
    expect(forked.map(f => f.memoryMb)).toEqual([0, 512])
    expect(pool.take(512)?.pid).toBe(1002)
  })

  it('two shapes taking turns (two stages of different heap limits) both find a host once warm, none killed for the other', async () => {
    await filled(2)
    const takes: Array<number | undefined> = []
    for (let round = 0; round < 4; round++) {
      for (const shape of [512, 0]) {
        takes.push(pool.take(shape)?.memoryMb)
        await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS)
        await settle()
      }
    }
    // the first 512 finds none (one 0-host makes room for it); from then on every take finds its shape
    expect(takes).toEqual([undefined, 0, 512, 0, 512, 0, 512, 0])
    expect(forked.filter(f => f.host.killed.length > 0)).toHaveLength(1)
    // a third shape: the one asked for least recently goes
    expect(pool.take(1024)).toBeUndefined()
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS)
    await settle()
    expect(new Set(forked.filter(f => f.host.exitCode == null && !f.host.killed.length).map(f => f.memoryMb)).has(1024)).toBe(true)
  })

  it('an idle host that dies is not handed out, and is replaced', async () => {
    await filled(1)
    forked[0]!.host.exit()
    expect(pool.ready).toBe(0)
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS)
    await settle()
    expect(pool.take(0)?.pid).toBe(1002)
  })

  it('a host that dies before it loads is not re-forked in a loop: the pool waits for the next take', async () => {
    started(2)
    await vi.advanceTimersByTimeAsync(0)
    forked[0]!.host.exit()
    // each would die the same way (a bad NODE_OPTIONS, an unreadable host): no fork 4 times a second
    expect(await forksAfter(REFILL_DELAY_MS * 8)).toBe(1)
    expect(pool.take(0)).toBeUndefined()
    expect(await forksAfter(REFILL_DELAY_MS)).toBe(2)
    // one that loads, then is killed from outside, is replaced as before
    await settle()
    const filledAfter = forked.length
    forked.at(-1)!.host.exit()
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS)
    await settle()
    expect(forked.length).toBeGreaterThan(filledAfter)
  })

  it('a host that never says it loaded holds the refill back 10 s at most', async () => {
    started(2)
    expect(await forksAfter(9_999)).toBe(1)
    expect(await forksAfter(1)).toBe(2)
  })

  it('stop kills the idle hosts and forks no more; renew replaces them', async () => {
    await filled(2)
    pool.renew()
    await settle()
    expect(forked.slice(0, 2).map(f => f.host.killed)).toEqual([['SIGKILL'], ['SIGKILL']])
    expect(pool.ready).toBe(2)
    pool.stop()
    expect(forked.every(f => f.host.exitCode != null)).toBe(true)
    pool.take(0)
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS * 4)
    expect(forked.length).toBe(4)
  })

  it('a pool of size 0 forks nothing', async () => {
    started(0)
    expect(pool.take(0)).toBeUndefined()
    await vi.advanceTimersByTimeAsync(REFILL_DELAY_MS * 4)
    expect(forked).toEqual([])
  })
})
