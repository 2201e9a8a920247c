import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import type { Logger } from '../logger.ts'
import { processAlive } from '../process-alive.ts'

const recordSchema = v.object({ id: v.pipe(v.string(), v.regex(/^w-[0-9a-f]{12}$/)), pid: v.pipe(v.number(), v.integer(), v.minValue(2)), agentPid: v.pipe(v.number(), v.integer(), v.minValue(1)) })
type WorkerRecord = v.InferOutput<typeof recordSchema>

/**
 * The agent's workers on disk (`<dataDir>/workers/<id>.json`: pid, agent pid), so an agent
 * that was killed before it could stop them finds and kills them when it starts again.
 * A process is killed only if its command line is still that worker's host (the worker
 * id is among its arguments: a reused pid is left alone), and only if the agent that
 * recorded it is gone (agents sharing a data dir never reap each other's workers).
 */
export class WorkerRecords {
  private readonly dir: string
  private readonly log: Logger
  private readonly written = new Map<string, Promise<void>>()

  constructor (dataDir: string, log: Logger) {
    this.dir = join(dataDir, 'workers')
    this.log = log
  }

  /** Kills what a previous agent left running; returns the pids killed. */
  async reapLeftovers (): Promise<number[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const killed: number[] = []
    for (const file of await readdir(this.dir)) {
      if (!file.endsWith('.json')) continue
      const path = join(this.dir, file)
      const record = await readRecord(path)
      if (record != null && record.agentPid !== process.pid && processAlive(record.agentPid)) continue
      if (record != null && await isWorkerHost(record)) {
        try {
          process.kill(record.pid, 'SIGKILL')
          killed.push(record.pid)
          this.log.warn({ worker: record.id, pid: record.pid }, 'killed a worker left by a previous agent')
        } catch {}
      }
      await rm(path, { force: true })
    }
    return killed
  }

  add (id: string, pid: number): void {
    const record: WorkerRecord = { id, pid, agentPid: process.pid }
    this.written.set(id, writeFile(join(this.dir, `${id}.json`), JSON.stringify(record), { mode: 0o600 })
      .catch(err => { this.log.warn({ err, worker: id }, 'could not record a worker') }))
  }

  remove (id: string): void {
    const written = this.written.get(id) ?? Promise.resolve()
    this.written.delete(id)
    void written.then(async () => { await rm(join(this.dir, `${id}.json`), { force: true }) })
      .catch(err => { this.log.warn({ err, worker: id }, 'could not remove a worker record') })
  }
}

async function readRecord (path: string): Promise<WorkerRecord | undefined> {
  try {
    const parsed = v.safeParse(recordSchema, JSON.parse(await readFile(path, 'utf8')))
    return parsed.success ? parsed.output : undefined
  } catch {
    return undefined
  }
}

async function isWorkerHost (record: WorkerRecord): Promise<boolean> {
  const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8').catch(() => '')
  const args = cmdline.split('\0')
  return args.some(arg => /worker-host\.(ts|js)$/.test(arg)) && args.includes(record.id)
}
