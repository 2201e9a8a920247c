import type { SimClock } from './clock.ts'

export interface NetworkInit {
  /** One-way delay range, ms. */
  minDelayMs: number
  maxDelayMs: number
  /** Chance that any one message is lost. */
  loss: number
  random: () => number
}

/** What a simulated process is, to the network: gone, stopped (SIGSTOP) or running. */
export interface Host {
  readonly index: number
  dead: boolean
  /** While stopped, deliveries wait (the kernel buffers them) and run at `resumeAt`. */
  stoppedUntil: number
  /** Which side of a partition the host is on (0: none). */
  side: number
}

/** Messages and bytes, sent and received, per host: what `sim:membership` reports per node per second. */
export class Traffic {
  readonly messages: Float64Array
  readonly bytes: Float64Array
  readonly byKind = new Map<string, { messages: number, bytes: number }>()

  constructor (hosts: number) {
    this.messages = new Float64Array(hosts)
    this.bytes = new Float64Array(hosts)
  }

  count (from: number, to: number, kind: string, bytes: number): void {
    this.messages[from]! += 1
    this.messages[to]! += 1
    this.bytes[from]! += bytes
    this.bytes[to]! += bytes
    const k = this.byKind.get(kind) ?? { messages: 0, bytes: 0 }
    k.messages++
    k.bytes += bytes
    this.byKind.set(kind, k)
  }

  reset (): void {
    this.messages.fill(0)
    this.bytes.fill(0)
    this.byKind.clear()
  }
}

/**
 * The simulated network: each message is delayed (uniform in a range), may
 * be lost, is dropped across a partition or to a dead host, and waits while
 * its receiver is stopped — as TCP on a LAN would treat it, loss aside.
 */
export class SimNetwork {
  readonly traffic: Traffic
  private readonly clock: SimClock
  private readonly init: NetworkInit
  private readonly hosts: Host[]

  constructor (clock: SimClock, hosts: Host[], size: number, init: NetworkInit) {
    this.clock = clock
    this.hosts = hosts
    this.init = init
    this.traffic = new Traffic(size)
  }

  /** Whether `a` can reach `b` at all right now (both up, same side). */
  reachable (a: number, b: number): boolean {
    const ha = this.hosts[a]!
    const hb = this.hosts[b]!
    return !ha.dead && !hb.dead && ha.side === hb.side
  }

  send (from: number, to: number, kind: string, bytes: number, deliver: () => void): void {
    this.traffic.count(from, to, kind, bytes)
    if (!this.reachable(from, to) || this.init.random() < this.init.loss) return
    const { minDelayMs, maxDelayMs } = this.init
    this.clock.after(minDelayMs + this.init.random() * (maxDelayMs - minDelayMs), () => { this.run(to, deliver) })
  }

  /** Runs `work` on host `index` now, or when it is resumed; never on a dead host. */
  run (index: number, work: () => void): void {
    const host = this.hosts[index]!
    if (host.dead) return
    if (host.stoppedUntil > this.clock.now) {
      this.clock.at(host.stoppedUntil, () => { this.run(index, work) })
      return
    }
    work()
  }
}
