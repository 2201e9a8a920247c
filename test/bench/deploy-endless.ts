/**
 * bench:deploy's endless part: `--items N` (default 5 M) no-op items from a
 * Redis stream through a deployed pipeline, and the owner's memory every
 * `--every N` (default 1 M) items. The owner is another process, so its
 * memory is read from outside: its RSS from /proc every 250 ms (the reading
 * is the lowest over the last tenth of each window, the floor after its
 * collections, so the first one is the working size after the warm-up and
 * not the start; and the highest over the whole window), and its JS heap
 * from the `--trace-gc` lines it was started with (the heap in use after the
 * window's last full collection, and what V8 kept committed). An idle member
 * (`--no-deployments`: same code, same gossip, no run) is read the same way.
 * The first window is the warm-up and the baseline: target, every later
 * window's RSS within 10 % of it.
 */
import type { Redis } from 'ioredis'
import type { GridProcess, LogLine } from '../integration/helpers/grid-process.ts'
import type { GridNode } from '../../src/node.ts'
import { note, procMemory, round, sleep } from './lib.ts'
import type { Figure, Row, TargetSpec } from './report.ts'

/** Node flags for the members the endless part reads: one line per full collection, none per scavenge. */
export const GC_TRACE_FLAGS = ['--trace-gc', '--trace-gc-ignore-scavenger']
const RSS_LIMIT = 1.10
/** Entries the producer keeps ahead of the ones done. */
const AHEAD = 50_000

export interface EndlessInit {
  observer: GridNode
  /** The members that may own the deployment, started with GC_TRACE_FLAGS. */
  members: GridProcess[]
  /** A member that runs no deployment, started with GC_TRACE_FLAGS: the baseline. */
  idle: GridProcess
  redis: Redis
  url: string
  definition: string
  items: number
  every: number
  until: <T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string) => Promise<T>
}

export interface Reading {
  items: number
  rssMb: number
  rssPeakMb: number
  heapUsedMb: number | null
  heapCommittedMb: number | null
  idleRssMb: number
  idleHeapUsedMb: number | null
  /** The run's lease token: a change means it restarted (and dropped whatever it held), so it is reported. */
  token: number | null
  atS: number
}

/** `Mark-Compact 74.1 (202.7) -> 18.2 (202.2) MB`: in use (committed) before -> after. */
const MARK_COMPACT = /Mark-Compact(?: \([a-z ]+\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/

/** The last full collection `p` logged since line `from`: the heap in use after it, and committed. */
export function lastFullGc (lines: LogLine[], from: number): { usedMb: number, committedMb: number } | undefined {
  for (let i = lines.length - 1; i >= from; i--) {
    const m = MARK_COMPACT.exec(String(lines[i]!.msg))
    if (m != null) return { usedMb: Number(m[1]), committedMb: Number(m[2]) }
  }
  return undefined
}

/** One process over one window: its RSS floor over the window's tail, its peak over all of it, and where its log stood. */
class Window {
  floor = Infinity
  peak = 0
  readonly from: number
  private readonly p: GridProcess
  constructor (p: GridProcess) {
    this.p = p
    this.from = p.lines.length
  }

  async sample (inTail: boolean): Promise<void> {
    const rss = (await procMemory(this.p.proc.pid))?.vmRssMb
    if (rss == null) return
    if (inTail) this.floor = Math.min(this.floor, rss)
    this.peak = Math.max(this.peak, rss)
  }
}

export async function endlessPart (init: EndlessInit): Promise<{ figures: Record<string, Figure>, targets: TargetSpec[], rows: Row[], details: Record<string, unknown> }> {
  const { observer, redis, url, items: ITEMS, every: EVERY, until } = init
  const status = (): ReturnType<GridNode['deployments']['status']> => observer.deployments.status('endless')
  await observer.deploy('endless', init.definition, { params: { url, in: 'endless-in', out: 'endless-out', maxLen: 4 * AHEAD, dedupeTtlS: 30 } })
  const started = await until(() => status().progress?.state === 'running' ? status() : undefined, 60_000, 'the endless owner')
  const owner = init.members.find(m => m.peerId === started.owner)
  if (owner == null) throw new Error(`the endless owner ${started.owner ?? '?'} is not one of the members`)
  note(`endless: ${ITEMS} items, owner ${owner.peerId} (pid ${owner.proc.pid}), idle member pid ${init.idle.proc.pid}`)
  const groupField = async (name: string): Promise<number> => {
    // the owner's source makes the stream and its group as it starts: until then, nothing is done
    const groups = await redis.call('XINFO', 'GROUPS', 'endless-in').catch(() => []) as unknown[][]
    const fields = groups[0] ?? []
    return Number(fields[fields.indexOf(name) + 1] ?? 0)
  }
  const done = async (): Promise<number> => await groupField('entries-read') - await groupField('pending')
  let produced = 0
  let producing = true
  const feeding = (async () => {
    while (producing) {
      if (produced - await done() < AHEAD) {
        const batch = redis.pipeline()
        for (let i = 0; i < 10_000; i++) batch.xadd('endless-in', 'MAXLEN', '~', 4 * AHEAD, '*', 'v', String(produced + i))
        await batch.exec()
        produced += 10_000
      } else {
        await sleep(20)
      }
    }
  })()
  const readings: Reading[] = []
  const logFrom = owner.mark()
  const t0 = performance.now()
  try {
    let own = new Window(owner)
    let idle = new Window(init.idle)
    for (let mark = EVERY; mark <= ITEMS;) {
      const now = await done()
      const inTail = now >= mark - EVERY / 10
      await own.sample(inTail)
      await idle.sample(inTail)
      if (now >= mark) {
        const heap = lastFullGc(owner.lines, own.from)
        const reading: Reading = {
          items: mark,
          rssMb: round(own.floor, 1),
          rssPeakMb: round(own.peak, 1),
          heapUsedMb: heap?.usedMb ?? null,
          heapCommittedMb: heap?.committedMb ?? null,
          idleRssMb: round(idle.floor, 1),
          idleHeapUsedMb: lastFullGc(init.idle.lines, idle.from)?.usedMb ?? null,
          token: status().token ?? null,
          atS: round((performance.now() - t0) / 1000, 1)
        }
        readings.push(reading)
        note(`${mark} items: ${JSON.stringify(reading)}`)
        own = new Window(owner)
        idle = new Window(init.idle)
        mark += EVERY
      }
      await sleep(250)
    }
  } finally {
    producing = false
    await feeding
  }
  const itemsPerS = Math.round(ITEMS / ((performance.now() - t0) / 1000))
  observer.deployments.stop('endless')
  // a run that restarted (its lease lost on a loaded machine) dropped what it held: said beside the figures, with
  // the owner's own lines about its lease and run (why: a step paused past pauseMs, say)
  const ownerLog = owner.lines.slice(logFrom).filter(l => /^deployment (lease|run)/.test(String(l.msg)))
  const restarts = ownerLog.filter(l => l.msg === 'deployment run started').length
  const leaseLog = ownerLog.slice(0, 40).map(l => `${String(l.time ?? '')} ${String(l.msg)}`)
  if (restarts > 0) note(`the endless run restarted ${restarts} time(s), lease tokens ${JSON.stringify(readings.map(r => r.token))}: ${leaseLog.join(' | ')}`)
  const first = readings[0]!
  const later = readings.slice(1)
  const worst = later.reduce((a, b) => b.rssMb > a.rssMb ? b : a, first)
  const last = readings.at(-1)!
  const heaps = readings.map(r => r.heapUsedMb).filter((h): h is number => h != null)
  const figures: Record<string, Figure> = {
    rssRatio: { value: round(worst.rssMb / first.rssMb, 3), unit: '×', label: `highest owner RSS after ${first.items} (at ${worst.items}) / after ${first.items}` },
    rssFirstMb: { value: first.rssMb, unit: 'MB', label: `RSS after ${first.items}` },
    rssLastMb: { value: last.rssMb, unit: 'MB', label: `RSS after ${last.items}` },
    heapUsedMaxMb: { value: heaps.length > 0 ? Math.max(...heaps) : null, unit: 'MB', label: 'JS heap in use after a full GC, highest' },
    idleRssLastMb: { value: last.idleRssMb, unit: 'MB', label: 'idle member RSS, last' },
    endlessItemsPerS: { value: itemsPerS, unit: 'items/s', label: 'deployed, endless' }
  }
  return {
    figures,
    targets: [{ figure: 'rssRatio', comparator: '<=', bound: RSS_LIMIT }],
    rows: [{
      what: 'deployed pipeline owner RSS (another process, lowest reading over the last tenth of each million) over an endless Redis stream through a no-op stage: every million after the first within 10 % of the first',
      figures: Object.keys(figures),
      note: `${ITEMS} items, read every ${EVERY}; the first ${EVERY} are the warm-up and baseline${restarts > 0 ? `; the run restarted ${restarts} time(s)` : ''}`
    }],
    details: { items: ITEMS, every: EVERY, owner: started.owner, token: started.token, restarts, leaseLog, readings }
  }
}
