import type { AddonHost } from '../addons/host.ts'
import { ScheduleStore } from '../schedules/store.ts'
import { nextTick } from '../schedules/spec.ts'
import { SCHEDULES_CHANNEL } from '../schedules/types.ts'

/** A schedule as the dashboard draws it. */
export interface ScheduleRow {
  id: string
  /** `cron <pattern> <zone>` or `every <n> ms`. */
  when: string
  task: string
  overlap: string
  paused: boolean
  /** The next tick (ms since the epoch); absent while paused. */
  nextRunAt?: number
  /** The latest tick fired, and by whom. */
  lastTickAt?: number
  holder?: string
}

/** The grid's schedules from the schedules channel (opened on first use), with their next run. */
export function scheduleRows (node: Partial<Pick<AddonHost, 'channel'>>, now = Date.now()): ScheduleRow[] {
  if (node.channel == null) return []
  let store: ScheduleStore
  try {
    store = new ScheduleStore(node.channel(SCHEDULES_CHANNEL))
  } catch {
    // a stopping node, or one at its channel cap: the page shows no schedules rather than no page
    return []
  }
  return store.schedules().map(s => {
    const fired = store.fired(s.id)
    const next = s.paused ? undefined : nextTick(s, Math.max(now, s.since))
    return {
      id: s.id,
      when: s.cron != null ? `cron ${s.cron} ${s.timezone}` : `every ${s.everyMs} ms`,
      task: s.task,
      overlap: s.overlap,
      paused: s.paused,
      ...(next != null ? { nextRunAt: next } : {}),
      ...(fired != null ? { lastTickAt: fired.tick, holder: fired.holder } : {})
    }
  })
}
