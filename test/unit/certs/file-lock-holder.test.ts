import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, writeFileSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as v from 'valibot'
import { withFileLock } from '../../../src/certs/file-lock.ts'
import { LockedJsonFile } from '../../../src/certs/locked-json-file.ts'
import { ERR_FILE_LOCKED, ERR_FILE_LOCK_LOST } from '../../../src/errors.ts'
import { ownProcessStart } from '../../../src/process-start.ts'

const fileLockModule = new URL('../../../src/certs/file-lock.ts', import.meta.url).pathname
const hasProc = existsSync('/proc/self/stat')
/** perl (Debian's perl-base, always there) makes a zombie deterministically: a parent that never waits. */
const hasPerl = existsSync('/usr/bin/perl')

/** A process that takes `lock`, reads `counter`, says "held", and adds one to it once it reads a line. */
async function startHolder (lock: string, counter: string): Promise<ChildProcess> {
  const script = `const { withFileLock } = await import(${JSON.stringify(fileLockModule)})
    const { readFileSync, writeFileSync } = await import('node:fs')
    await withFileLock(${JSON.stringify(lock)}, async () => {
      const { n } = JSON.parse(readFileSync(${JSON.stringify(counter)}, 'utf8'))
      process.stdout.write('held\\n')
      await new Promise(resolve => process.stdin.once('data', resolve))
      writeFileSync(${JSON.stringify(counter)}, JSON.stringify({ n: n + 1 }))
    })
    process.exit(0)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => { if (data.toString().includes('held')) resolve() })
    child.once('exit', (code, signal) => { reject(new Error(`the holder exited (${code ?? signal}) before it held the lock`)) })
  })
  return child
}

async function reap (child: ChildProcess | undefined): Promise<void> {
  if (child == null || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

async function addOne (counter: string): Promise<void> {
  const { n } = JSON.parse(await readFile(counter, 'utf8')) as { n: number }
  await writeFile(counter, JSON.stringify({ n: n + 1 }))
}

describe('withFileLock: a holder that still runs keeps its lock', () => {
  let dir: string
  let lock: string
  let counter: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-lock-holder-'))
    lock = join(dir, 'x.lock')
    counter = join(dir, 'counter.json')
    await writeFile(counter, JSON.stringify({ n: 0 }))
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it.skipIf(!hasProc)('a holder stopped (SIGSTOP) past staleMs is waited for, not taken over: no lost update', async () => {
    let holder: ChildProcess | undefined
    try {
      holder = await startHolder(lock, counter)
      const pid = holder.pid ?? 0
      holder.kill('SIGSTOP')
      await sleep(100)
      // taken over by age, this change would be lost when the holder resumes and writes what it read before
      await expect(withFileLock(lock, async () => { await addOne(counter) }, { staleMs: 20, timeoutMs: 300 }))
        .rejects.toMatchObject({ code: ERR_FILE_LOCKED, message: expect.stringMatching(new RegExp(`pid ${pid} on .*still running.*kill -CONT ${pid}`)) })
      holder.kill('SIGCONT')
      holder.stdin?.write('go\n')
      await once(holder, 'exit')
      await withFileLock(lock, async () => { await addOne(counter) }, { staleMs: 20, timeoutMs: 5000 })
      expect(JSON.parse(await readFile(counter, 'utf8'))).toEqual({ n: 2 })
      expect(await readdir(dir)).toEqual(['counter.json'])
    } finally {
      await reap(holder)
    }
  })

  it('a holder killed while it holds the lock: taken over at once', async () => {
    let holder: ChildProcess | undefined
    try {
      holder = await startHolder(lock, counter)
      holder.kill('SIGSTOP')
      await reap(holder)
      expect(await withFileLock(lock, async () => 'mine', { staleMs: 3_600_000, timeoutMs: 5000 })).toBe('mine')
      expect(await readdir(dir)).toEqual(['counter.json'])
    } finally {
      await reap(holder)
    }
  })

  it.skipIf(!hasProc)('a holder whose pid now names a later process (another start time): taken over at once', async () => {
    const own = await ownProcessStart()
    expect(own).toBeDefined()
    const lockOf = (start: string): string => JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'n', space: own?.space, start })
    await writeFile(lock, lockOf(String(Number(own?.start) + 1)))
    expect(await withFileLock(lock, async () => 'mine', { staleMs: 3_600_000, timeoutMs: 1000 })).toBe('mine')
    // the same start time: that holder runs
    await writeFile(lock, lockOf(own?.start ?? ''))
    const old = new Date(Date.now() - 60_000)
    await utimes(lock, old, old)
    await expect(withFileLock(lock, async () => 1, { staleMs: 20, timeoutMs: 100 })).rejects.toMatchObject({ code: ERR_FILE_LOCKED })
  })

  it.skipIf(!hasProc || !hasPerl)('a holder that exited but is not reaped yet (a zombie): taken over at once', async () => {
    let parent: ChildProcess | undefined
    try {
      // the forked child exits at once; its parent never waits for it, so it stays a zombie (a shell's
      // backgrounded `sleep 0` was sometimes reaped by the shell before its exec, on a loaded machine)
      parent = spawn('perl', ['-e', '$| = 1; my $pid = fork; exit 0 if $pid == 0; print "$pid\n"; sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] })
      const [data] = await once(parent.stdout as NodeJS.ReadableStream, 'data') as [Buffer]
      const zombie = Number(data.toString().trim())
      let fields: string[] = []
      for (let i = 0; i < 200 && fields[0] !== 'Z'; i++) {
        const stat = await readFile(`/proc/${zombie}/stat`, 'utf8')
        fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        if (fields[0] !== 'Z') await sleep(10)
      }
      expect(fields[0]).toBe('Z')
      const own = await ownProcessStart()
      await writeFile(lock, JSON.stringify({ pid: zombie, host: hostname(), nonce: 'z', space: own?.space, start: fields[19] }))
      expect(await withFileLock(lock, async () => 'mine', { staleMs: 3_600_000, timeoutMs: 1000 })).toBe('mine')
    } finally {
      await reap(parent)
    }
  })

  it('a holder that cannot be checked keeps the age rule (another pid namespace or boot, or no start time recorded)', async () => {
    const own = await ownProcessStart()
    for (const holder of [
      { pid: process.pid, host: hostname(), nonce: 'ns', space: 'another-boot pid:[1]', start: own?.start ?? '1' },
      { pid: process.pid, host: hostname(), nonce: 'no-proc' }
    ]) {
      await writeFile(lock, JSON.stringify(holder))
      await expect(withFileLock(lock, async () => 1, { staleMs: 30_000, timeoutMs: 100 }))
        .rejects.toMatchObject({ code: ERR_FILE_LOCKED, message: expect.stringContaining('taken over once it is 30 s old') })
      const old = new Date(Date.now() - 60_000)
      await utimes(lock, old, old)
      expect(await withFileLock(lock, async () => 'mine', { staleMs: 30_000, timeoutMs: 1000 })).toBe('mine')
    }
  })
})

describe('a holder whose lock was taken over writes nothing', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'gridd-lock-lost-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('assertHeld throws ERR_FILE_LOCK_LOST, and LockedJsonFile.update does not write; the new holder\'s lock stays', async () => {
    const lock = join(dir, 'x.lock')
    const thief = JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'thief' })
    await withFileLock(lock, async held => {
      await held.assertHeld()
      await writeFile(lock, thief)
      await expect(held.assertHeld()).rejects.toMatchObject({ code: ERR_FILE_LOCK_LOST, message: expect.stringContaining('pid 1 on elsewhere') })
    })
    expect(await readFile(lock, 'utf8')).toBe(thief)
    await rm(lock)

    const path = join(dir, 'x.json')
    await writeFile(path, JSON.stringify({ n: 1 }))
    const file = new LockedJsonFile(path, lock, v.object({ n: v.number() }), reason => new Error(reason))
    await expect(file.update(current => {
      writeFileSync(lock, thief) // taken over while this holder was paused
      return { write: { n: (current?.n ?? 0) + 1 }, result: 'written' }
    })).rejects.toMatchObject({ code: ERR_FILE_LOCK_LOST })
    expect(await file.read()).toEqual({ n: 1 })
    expect((await readdir(dir)).sort()).toEqual(['x.json', 'x.lock'])
  })
})
