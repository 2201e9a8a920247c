import { availableParallelism, cpus, freemem, totalmem } from 'node:os'

const MB = 1024 * 1024

/**
 * The machine's figures a heartbeat carries, read at most every `everyMs`: `os.cpus()` and
 * `os.freemem()` open five files under /proc and /sys each time, and an idle node asked every
 * heartbeat. Between readings the last figures stand; CPU use is the average since the reading before.
 */
export class MachineLoad {
  private readonly cpu = new CpuSampler()
  private readonly everyMs: number
  private readAt = -Infinity
  private figures = { cpu: 0, memoryFreeMb: freeMemoryMb() }

  constructor (everyMs: number) {
    this.everyMs = everyMs
  }

  sample (now: number): { cpu: number, memoryFreeMb: number } {
    if (now - this.readAt >= this.everyMs) {
      this.readAt = now
      this.figures = { cpu: this.cpu.sample(), memoryFreeMb: freeMemoryMb() }
    }
    return this.figures
  }
}

/** Machine CPU use (0..1) between two samples, from the kernel's per-CPU time counters. */
export class CpuSampler {
  private last = snapshot()

  sample (): number {
    const now = snapshot()
    const busy = now.busy - this.last.busy
    const total = now.total - this.last.total
    this.last = now
    return total <= 0 ? 0 : Math.min(1, Math.max(0, busy / total))
  }
}

function snapshot (): { busy: number, total: number } {
  let busy = 0
  let total = 0
  for (const cpu of cpus()) {
    const t = cpu.times
    busy += t.user + t.nice + t.sys + t.irq
    total += t.user + t.nice + t.sys + t.irq + t.idle
  }
  return { busy, total }
}

export function machineCapacity (): { cpu: number, memoryMb: number } {
  return { cpu: availableParallelism(), memoryMb: Math.floor(totalmem() / MB) }
}

export function freeMemoryMb (): number {
  return Math.floor(freemem() / MB)
}
