/**
 * One size of the scale benchmark: N `grid node --dev` processes on 127.0.0.1,
 * each joined through a random earlier one, measured idle (CPU, bytes sent),
 * then joined into, paused and killed. Times come from the nodes' own log
 * timestamps, as in bench:membership; costs from /proc and `ss`.
 */
import { once } from 'node:events'
import { Cluster, allLogged, converge, firstLine, lastState, listeningTime, median, memberEvent, note, procMemory, round, sleep, summarize, timeOf } from './lib.ts'
import type { GridProcess, Summary } from './lib.ts'
import { bytesWritten, childPids, cpuSeconds, loadAverage, machineJiffies, socketBytes, socketBytesBetween } from './proc-stats.ts'

export interface SizeOptions {
  n: number
  /** Quiet time after convergence before the idle window (startup's connection churn and JIT settle). */
  settleMs: number
  windowMs: number
  joins: number
  stops: number
  kills: number
}

export interface IdleCost {
  windowS: number
  /** Per node, % of one core over the window. */
  cpuPct: number[]
  cpuMedianPct: number
  cpuMaxPct: number
  /** The N nodes together, % of one core (200 % is the whole 2-core machine). */
  gridCpuPct: number
  /** Per node, TCP bytes sent per second (tcp_info bytes_sent of its connections, from `ss`). */
  socketBytesPerS: number[]
  socketBytesMedianPerS: number
  socketBytesMaxPerS: number
  /** Per node, bytes per second passed to write() (/proc/<pid>/io wchar): sockets plus the log pipe. */
  wcharMedianPerS: number
  /** Per node, bytes per second of log lines (part of wchar). */
  logBytesMedianPerS: number
  connectionsMedian: number
  connectionsClosedInWindow: number
  /** member:suspect / member:fail lines logged during the window: an idle grid should log none. */
  suspects: number
  failures: number
  rssMedianMb: number | null
  childProcesses: number
  loadAverage: { before: number, after: number }
  /** How busy the whole machine was during the window (every process, ours or not), % of all its cores. */
  machineBusyPct: number
}

export interface SizeResult {
  n: number
  startupConvergeMs: number | null
  join: Summary
  leaveAllMs: Array<number | null>
  idle: IdleCost
  stop: Summary
  rejoinAfterCont: Summary
  stopRuns: unknown[]
  kill: Summary
  killRuns: unknown[]
  warnings: string[]
}

/** A log line's message and, when it carries one, its error's message. */
function lineText (l: { msg: string, err?: unknown }): string {
  const err = l.err as { message?: unknown } | undefined
  return typeof err?.message === 'string' ? `${l.msg} (${err.message.slice(0, 200)})` : String(l.msg)
}

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!
const r1 = (x: number): number => round(x, 1)

export class ScaleGrid {
  readonly cluster = new Cluster()
  nodes: GridProcess[] = []
  readonly warnings: string[] = []
  private readonly opts: SizeOptions
  /** Waits on the grid scale with it: a loaded 2-core machine runs 50 nodes' timers late. */
  private readonly waitMs: number
  /** After this (epoch ms) the joins, pauses and kills left are skipped, so one stuck size cannot eat the whole run. */
  private deadline = Infinity

  constructor (opts: SizeOptions) {
    this.opts = opts
    this.waitMs = 15_000 + 300 * opts.n
  }

  /** How long one size may take: starting N nodes one by one dominates on a loaded machine. */
  static budgetMs (n: number): number {
    return 180_000 + 10_000 * n
  }

  async measure (): Promise<SizeResult> {
    const n = this.opts.n
    this.deadline = Date.now() + ScaleGrid.budgetMs(n)
    const startupConvergeMs = await this.start()
    note(`N=${n}: converged ${startupConvergeMs ?? 'never'} ms after the first start; ${this.opts.settleMs / 1000} s to settle`)
    await sleep(this.opts.settleMs)
    const idle = await this.idle()
    note(`N=${n}: idle CPU per node median ${idle.cpuMedianPct} % max ${idle.cpuMaxPct} %, grid ${idle.gridCpuPct} %; sent ${idle.socketBytesMedianPerS} B/s per node (median); load ${idle.loadAverage.after}, machine ${idle.machineBusyPct} % busy`)
    const joins = await this.joins()
    const stops = await this.stops()
    const kills = await this.kills()
    return { n, startupConvergeMs, ...joins, idle, ...stops, ...kills, warnings: this.warnings }
  }

  async close (): Promise<void> {
    await this.cluster.close()
  }

  private async settle (what: string, timeoutMs = this.waitMs): Promise<number | null> {
    const ms = await converge(this.nodes, timeoutMs)
    if (ms == null) {
      this.warnings.push(`N=${this.opts.n}: not converged within ${timeoutMs} ms after ${what}: ${this.missingPairs()}`)
      note(`WARNING: N=${this.opts.n} not converged after ${what}: ${this.missingPairs()}`)
    }
    return ms
  }

  /** Past the size's budget: says what is skipped. */
  private overBudget (what: string): boolean {
    if (Date.now() < this.deadline) return false
    this.warnings.push(`N=${this.opts.n}: over its ${ScaleGrid.budgetMs(this.opts.n) / 1000} s budget, skipped ${what}`)
    note(`WARNING: N=${this.opts.n} over its budget, skipped ${what}`)
    return true
  }

  /** Which observer does not list which member alive (the state it last logged), the first few. */
  private missingPairs (): string {
    const missing = this.nodes.flatMap(o => this.nodes.filter(m => m !== o && lastState(o, m.peerId) !== 'alive').map(m => `:${o.port}→:${m.port} ${lastState(o, m.peerId) ?? 'unknown'}`))
    return `${missing.length} of ${this.nodes.length * (this.nodes.length - 1)} pairs not alive (${missing.slice(0, 8).join(', ')})`
  }

  /** Starts the N nodes one after another, each joining through a random earlier one; ms until all list all alive. */
  private async start (): Promise<number | null> {
    const t0 = Date.now()
    for (let i = 0; i < this.opts.n; i++) {
      const seed = this.nodes.length === 0 ? [] : [pick(this.nodes).address]
      const started = `${i} of ${this.opts.n} nodes started in ${Math.round((Date.now() - t0) / 1000)} s`
      if (Date.now() > this.deadline) throw new Error(`${started}: over the size's ${ScaleGrid.budgetMs(this.opts.n) / 1000} s budget`)
      try {
        this.nodes.push(await this.cluster.start(await this.cluster.freePort(), seed, 60_000))
      } catch (err) {
        throw new Error(`${started}, then one did not log "grid node listening" within 60 s (${(err as Error).message.split('\n', 1)[0]})`)
      }
    }
    note(`N=${this.opts.n}: all listening after ${Date.now() - t0} ms; waiting for convergence`)
    const ms = await this.settle('startup', this.waitMs * 2)
    return ms == null ? null : Date.now() - t0
  }

  private async idle (): Promise<IdleCost> {
    const nodes = this.nodes
    const pids = nodes.map(p => p.proc.pid!)
    const loadBefore = await loadAverage()
    const marks = nodes.map(p => p.mark())
    const [cpu0, w0, s0, m0] = await Promise.all([Promise.all(pids.map(cpuSeconds)), Promise.all(pids.map(bytesWritten)), socketBytes(pids), machineJiffies()])
    const t0 = Date.now()
    await sleep(this.opts.windowMs)
    const [cpu1, w1, s1, m1] = await Promise.all([Promise.all(pids.map(cpuSeconds)), Promise.all(pids.map(bytesWritten)), socketBytes(pids), machineJiffies()])
    const seconds = (Date.now() - t0) / 1000
    const perS = (a: Array<number | null>, b: Array<number | null>, scale = 1): number[] => a.map((x, i) => ((b[i] ?? NaN) - (x ?? NaN)) * scale / seconds)
    const cpuPct = perS(cpu0, cpu1, 100).map(r1)
    const sent = pids.map(pid => socketBytesBetween(s0, s1, pid))
    const socketBytesPerS = sent.map(s => Math.round(s.bytes / seconds))
    const logged = nodes.map((p, i) => p.lines.slice(marks[i]))
    const logBytes = logged.map(lines => lines.reduce((sum, l) => sum + JSON.stringify(l).length + 1, 0) / seconds)
    const count = (msg: string): number => logged.flat().filter(l => l.msg === msg).length
    const rss = (await Promise.all(pids.map(procMemory))).map(m => m?.vmRssMb).filter((x): x is number => x != null)
    const children = (await Promise.all(pids.map(childPids))).flat().length
    if (cpuPct.some(x => !Number.isFinite(x))) this.warnings.push(`N=${this.opts.n}: a node exited during the idle window`)
    return {
      windowS: round(seconds, 2),
      cpuPct,
      cpuMedianPct: median(cpuPct),
      cpuMaxPct: Math.max(...cpuPct),
      gridCpuPct: r1(cpuPct.reduce((a, b) => a + b, 0)),
      socketBytesPerS,
      socketBytesMedianPerS: median(socketBytesPerS),
      socketBytesMaxPerS: Math.max(...socketBytesPerS),
      wcharMedianPerS: Math.round(median(perS(w0, w1))),
      logBytesMedianPerS: Math.round(median(logBytes)),
      connectionsMedian: median(pids.map(pid => s1.get(pid)?.size ?? 0)),
      connectionsClosedInWindow: sent.reduce((a, s) => a + s.closed, 0),
      suspects: count('member:suspect'),
      failures: count('member:fail'),
      rssMedianMb: rss.length === 0 ? null : median(rss),
      childProcesses: children,
      loadAverage: { before: loadBefore, after: await loadAverage() },
      machineBusyPct: r1((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total) * 100)
    }
  }

  /** A new node joins the settled grid: until all N logged it and it logged all N (from its "listening"), then it leaves. */
  private async joins (): Promise<{ join: Summary, leaveAllMs: Array<number | null> }> {
    const samples: Array<number | null> = []
    const leaveAllMs: Array<number | null> = []
    for (let i = 0; i < this.opts.joins; i++) {
      if (this.overBudget(`joins ${i + 1}..${this.opts.joins}`)) break
      const extra = await this.cluster.start(await this.cluster.freePort(), [pick(this.nodes).address], 60_000)
      const t0 = listeningTime(extra)
      const [seenByAll, seen] = await Promise.all([
        allLogged(this.nodes, memberEvent(['member:join', 'member:rejoin'], extra.peerId), t0, this.waitMs),
        Promise.all(this.nodes.map(async m => await firstLine(extra, memberEvent(['member:join', 'member:rejoin'], m.peerId), this.waitMs)))
      ])
      const sees = seen.some(l => l == null) ? null : Math.max(...seen.map(l => timeOf(l!) - t0))
      samples.push(seenByAll.ms == null || sees == null ? null : Math.max(seenByAll.ms, sees))
      if (sees == null) this.warnings.push(`N=${this.opts.n} join ${i + 1}: the joiner :${extra.port} knew ${seen.filter(l => l != null).length} of ${this.nodes.length} after ${this.waitMs} ms; its last lines: ${extra.lines.slice(-4).map(lineText).join(' | ')}`)
      const tTerm = Date.now()
      await extra.stop('SIGTERM')
      // a joiner no one heard of cannot be seen leaving
      const left = seenByAll.firstMs == null ? null : await allLogged(this.nodes, memberEvent(['member:leave'], extra.peerId, tTerm), tTerm, this.waitMs)
      leaveAllMs.push(left?.ms ?? null)
      note(`N=${this.opts.n} join ${i + 1}/${this.opts.joins}: known by all in ${seenByAll.ms ?? `timeout (${seenByAll.missing} missing)`} ms, knows all in ${sees ?? 'timeout'} ms; leave seen by all in ${left?.ms ?? 'timeout'} ms`)
      await this.settle(`join ${i + 1}`)
    }
    return { join: summarize(samples), leaveAllMs }
  }

  /** SIGSTOP one node until every other logged it failed, then SIGCONT: until all list it alive again. */
  private async stops (): Promise<{ stop: Summary, rejoinAfterCont: Summary, stopRuns: unknown[] }> {
    const failedMs: Array<number | null> = []
    const backMs: Array<number | null> = []
    const stopRuns: unknown[] = []
    for (let s = 0; s < this.opts.stops; s++) {
      if (this.overBudget(`pauses ${s + 1}..${this.opts.stops}`)) break
      const victim = this.nodes[this.nodes.length - 1 - s]!
      const observers = this.nodes.filter(p => p !== victim)
      const t0 = Date.now()
      victim.proc.kill('SIGSTOP')
      let failed
      try {
        failed = await allLogged(observers, memberEvent(['member:fail'], victim.peerId, t0), t0, this.waitMs + 10_000)
      } finally {
        victim.proc.kill('SIGCONT')
      }
      const tCont = Date.now()
      const back = await allLogged(observers, memberEvent(['member:rejoin', 'member:update', 'member:join'], victim.peerId, tCont, 'alive'), tCont, this.waitMs)
      failedMs.push(failed.ms)
      backMs.push(back.ms)
      stopRuns.push({ port: victim.port, failFirstMs: failed.firstMs, failAllMs: failed.ms, missing: failed.missing, aliveAgainAfterContMs: back.ms })
      note(`N=${this.opts.n} sigstop ${s + 1}/${this.opts.stops} :${victim.port}: failed by all in ${failed.ms ?? `timeout (${failed.missing} missing)`} ms (first ${failed.firstMs}); alive again everywhere ${back.ms ?? 'timeout'} ms after SIGCONT`)
      await this.settle(`sigstop ${s + 1}`)
    }
    return { stop: summarize(failedMs), rejoinAfterCont: summarize(backMs), stopRuns }
  }

  /** SIGKILL one node: until every other logged it failed. The victim stays dead (the grid shrinks by one per kill). */
  private async kills (): Promise<{ kill: Summary, killRuns: unknown[] }> {
    const failedMs: Array<number | null> = []
    const killRuns: unknown[] = []
    for (let k = 0; k < this.opts.kills; k++) {
      if (this.overBudget(`kills ${k + 1}..${this.opts.kills}`)) break
      // the second node each time (the one before it is gone): never a node just paused by stops()
      const victim = this.nodes[1]!
      const observers = this.nodes.filter(p => p !== victim)
      const exited = once(victim.proc, 'exit')
      const t0 = Date.now()
      victim.proc.kill('SIGKILL')
      const failed = await allLogged(observers, memberEvent(['member:fail'], victim.peerId, t0), t0, this.waitMs)
      await Promise.race([exited, sleep(5000)])
      this.nodes = observers
      failedMs.push(failed.ms)
      killRuns.push({ port: victim.port, failFirstMs: failed.firstMs, failAllMs: failed.ms, missing: failed.missing })
      note(`N=${this.opts.n} sigkill ${k + 1}/${this.opts.kills} :${victim.port}: failed by all in ${failed.ms ?? `timeout (${failed.missing} missing)`} ms (first ${failed.firstMs})`)
      await this.settle(`sigkill ${k + 1}`)
    }
    return { kill: summarize(failedMs), killRuns }
  }
}
