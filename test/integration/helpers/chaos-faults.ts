import { execFile } from 'node:child_process'
import type { GridProcess } from './grid-process.ts'

/** A small seeded PRNG (the membership simulator's mulberry32), so a run's faults can be replayed from its seed. */
export { seeded as seededRandom } from '../../sim/membership/clock.ts'

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The pids of `pid`'s children (`pgrep -P`); none when it has none or is gone. */
export async function childPids (pid: number): Promise<number[]> {
  return await new Promise(resolve => {
    execFile('pgrep', ['-P', String(pid)], (_err, stdout) => {
      resolve(stdout.split('\n').filter(s => s.trim() !== '').map(Number))
    })
  })
}

/** A zombie (an exited worker of a dead agent, not yet reaped by init) is not alive. */
export { processRunning as alive } from './process-state.ts'

/** Pids of the workers `agent` logged as started and not yet as exited (pre-started hosts never taken are not workers). */
export function runningWorkerPids (agent: GridProcess): number[] {
  const started = new Map<string, number>()
  for (const line of agent.lines) {
    if (line.msg === 'worker started') started.set(String(line.worker), Number(line.pid))
    else if (line.msg === 'worker exited') started.delete(String(line.worker))
  }
  return [...started.values()]
}

export type FaultKind = 'pause' | 'kill-agent' | 'kill-worker'

export interface FaultRecord {
  atMs: number
  kind: FaultKind
  agent: string
  detail: string
}

/**
 * One agent slot of the chaos grid: the process now running under certificate `name`, replaced in place
 * when the injector kills and restarts it (same key, so the same peer id and default data dir).
 */
export interface AgentSlot {
  name: string
  proc: GridProcess
}

export interface InjectorOptions {
  random: () => number
  slots: AgentSlot[]
  /** Starts `slot`'s agent again (same name; on its old port, or a new one), with a live agent other than it as its peer. */
  restart: (slot: AgentSlot, samePort: boolean) => Promise<GridProcess>
  /** Every pid a fault or a snapshot saw as a child of an agent: checked gone once everything stopped. */
  seenPids: Set<number>
  until: number
  startedAt: number
  log: (record: FaultRecord) => void
}

/** Random integer in [lo, hi]. */
const between = (random: () => number, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))

/**
 * Injects one fault at a time on a random agent until `until` (wall clock): SIGSTOP for 2-8 s then SIGCONT;
 * SIGKILL of the agent and a restart 0-1.5 s later (on its old port or a new one); SIGKILL of one of its
 * worker processes (a worker, or a pre-started host). A gap of 0.3-1.5 s between faults. Each fault ends
 * (SIGCONT sent, agent restarted) before the next begins, and before this
 * returns, so no agent is left stopped or dead whatever happens.
 */
export async function injectFaults (options: InjectorOptions): Promise<FaultRecord[]> {
  const { random, slots, seenPids } = options
  const records: FaultRecord[] = []
  const note = (kind: FaultKind, slot: AgentSlot, detail: string): void => {
    const record = { atMs: Math.round(performance.now() - options.startedAt), kind, agent: slot.name, detail }
    records.push(record)
    options.log(record)
  }
  // bounded in count as well as in time
  for (let i = 0; i < 200 && Date.now() < options.until; i++) {
    await sleep(between(random, 300, 1500))
    if (Date.now() >= options.until) break
    const slot = slots[Math.floor(random() * slots.length)]!
    const roll = random()
    const pid = slot.proc.proc.pid!
    for (const child of await childPids(pid)) seenPids.add(child)
    if (roll < 0.25) {
      const ms = between(random, 2000, 8000)
      note('pause', slot, `${ms} ms`)
      slot.proc.proc.kill('SIGSTOP')
      try {
        await sleep(ms)
      } finally {
        slot.proc.proc.kill('SIGCONT')
      }
    } else if (roll < 0.6) {
      const ms = between(random, 0, 1500)
      const samePort = random() < 0.5
      note('kill-agent', slot, `restart after ${ms} ms on ${samePort ? 'the same' : 'a new'} port`)
      await slot.proc.stop('SIGKILL')
      await sleep(ms)
      slot.proc = await options.restart(slot, samePort)
    } else {
      // any child of the agent: a worker, or a pre-started host idle until a spawn takes it
      const workers = new Set(runningWorkerPids(slot.proc))
      const candidates = (await childPids(pid)).sort((a, b) => a - b)
      if (candidates.length === 0) {
        note('kill-worker', slot, 'no worker process: skipped')
        continue
      }
      const victim = candidates[Math.floor(random() * candidates.length)]!
      note('kill-worker', slot, `pid ${victim} (${workers.has(victim) ? 'a worker' : 'an idle host'})`)
      try { process.kill(victim, 'SIGKILL') } catch {}
    }
  }
  return records
}
