import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { basename } from 'node:path'

export const GRID_BIN = fileURLToPath(new URL('../../../bin/grid.js', import.meta.url))

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** A real `grid node` child process with its parsed JSON log. */
export class GridProcess {
  readonly proc: ChildProcess
  readonly lines: LogLine[] = []
  readonly args: string[]
  peerId = ''
  port = 0
  private raw = ''
  private readonly waiters = new Set<() => void>()

  /**
   * `command` replaces the default `node bin/grid.js node ARGS` (e.g. to run it under unshare); `detached`
   * starts it in a process group of its own (its pid is the group's id), as a shell or systemd would.
   */
  constructor (args: string[], env: Record<string, string> = {}, cwd?: string, command?: string[], options: { detached?: boolean } = {}) {
    this.args = args
    const [file, ...argv] = command ?? [process.execPath, GRID_BIN, 'node', ...args]
    this.proc = spawn(file!, argv, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached === true })
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => { this.onData(chunk) })
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.raw += chunk })
  }

  private onData (chunk: string): void {
    this.raw += chunk
    const parts = this.raw.split('\n')
    this.raw = parts.pop() ?? ''
    for (const part of parts) {
      try {
        const line = JSON.parse(part) as LogLine
        this.lines.push(line)
        if (line.msg === 'grid node listening') {
          this.peerId = String(line.peerId)
          const addr = (line.addresses as string[])[0] ?? ''
          this.port = Number(/\/tcp\/(\d+)/.exec(addr)?.[1])
        }
      } catch {
        this.lines.push({ level: 0, msg: part })
      }
    }
    for (const wake of this.waiters) wake()
  }

  /** Where the log is now: pass it to `waitFor` to match only what is logged after this point. */
  mark (): number {
    return this.lines.length
  }

  /**
   * Resolves with the first matching log line logged after `since` (by default: after this call, so an
   * earlier line never satisfies a later wait; take a `mark()` before the action that should log it),
   * or rejects after `timeoutMs`.
   */
  async waitFor (match: (line: LogLine) => boolean, timeoutMs = 15_000, since = this.lines.length): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs
    let next = since
    while (true) {
      for (; next < this.lines.length; next++) {
        if (match(this.lines[next]!)) return this.lines[next]!
      }
      if (this.proc.exitCode != null) throw new Error(`grid node exited with ${this.proc.exitCode}: ${this.output()}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line; got:\n${this.output()}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, 200)
        const waiters = this.waiters
        function done (): void { clearTimeout(timer); waiters.delete(done); resolve() }
        waiters.add(done)
      })
    }
  }

  /** The first matching line since the process started (e.g. a startup line that may already be logged). */
  async firstLine (match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    return await this.waitFor(match, timeoutMs, 0)
  }

  async ready (): Promise<this> {
    await this.firstLine(l => l.msg === 'grid node listening')
    return this
  }

  get address (): string {
    return `127.0.0.1:${this.port}`
  }

  output (): string {
    return this.lines.map(l => JSON.stringify(l)).join('\n') + this.raw
  }

  /** Sends a signal and waits for exit (SIGKILL after `timeoutMs`). */
  async stop (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 8000): Promise<number | null> {
    if (this.proc.exitCode != null || this.proc.signalCode != null) return this.proc.exitCode
    const exited = once(this.proc, 'exit')
    this.proc.kill(signal)
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs)
    await exited
    clearTimeout(timer)
    await this.removeThrowawayDataDir()
    return this.proc.exitCode
  }

  /**
   * A `--dev` node on port 0 keeps its state in a temp dir of its own, which it removes when it stops; one
   * killed (SIGKILL) cannot, and every such test left one behind (the node names it when it listens).
   */
  private async removeThrowawayDataDir (): Promise<void> {
    const dataDir = this.lines.find(l => l.msg === 'grid node listening')?.dataDir
    if (typeof dataDir === 'string' && basename(dataDir).startsWith('gridd-dev-data-')) await rm(dataDir, { recursive: true, force: true })
  }
}

/** `grid node ARGS` on a free loopback port; `nodeFlags` go to Node itself (a bench's `--trace-gc`). */
export async function startNode (args: string[], env?: Record<string, string>, cwd?: string, nodeFlags: string[] = []): Promise<GridProcess> {
  const full = ['--host', '127.0.0.1', '--port', '0', ...args]
  const command = nodeFlags.length > 0 ? [process.execPath, ...nodeFlags, GRID_BIN, 'node', ...full] : undefined
  return await readyOrKilled(new GridProcess(full, env, cwd, command))
}

/** `node` once it listens; killed if it never does (exited, or no "grid node listening" in time). */
export async function readyOrKilled (node: GridProcess): Promise<GridProcess> {
  try {
    return await node.ready()
  } catch (err) {
    // never leave a process behind that the caller could not get hold of
    await node.stop('SIGKILL')
    throw err
  }
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** This process's environment without any GRID_* variable (pass as `replaceEnv` so a test sees only what it sets). */
export function withoutGridVariables (): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => !e[0].startsWith('GRID_') && e[1] != null))
}

/** Runs `grid <args>` to completion; `env` adds to this process's environment, `replaceEnv` replaces it. */
export async function runGrid (args: string[], options: { env?: Record<string, string>, replaceEnv?: Record<string, string>, cwd?: string, timeoutMs?: number } = {}): Promise<CliResult> {
  return await new Promise(resolve => {
    execFile(process.execPath, [GRID_BIN, ...args], { env: { ...(options.replaceEnv ?? process.env), ...options.env }, cwd: options.cwd, timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T> (check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`)
}

/** `promise`, or an error saying `what` did not happen within `ms`. */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} not within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}
