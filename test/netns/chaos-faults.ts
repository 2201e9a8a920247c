import type { TestNetwork } from './network.ts'

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export type NetworkFaultKind = 'partition' | 'one-way' | 'agents-cut' | 'lossy' | 'netem'

export interface NetworkFaultRecord {
  atMs: number
  kind: NetworkFaultKind
  detail: string
}

export interface NetworkInjectorOptions {
  random: () => number
  net: TestNetwork
  /** Host indexes of the agents (an `agents-cut` picks two of them). */
  agents: number[]
  /** Host index of the pipeline's owner (the full partition and the one-way cut may hit it too). */
  owner: number
  /** Whether `tc netem` works here; without it latency is skipped and loss comes from nftables. */
  netem: boolean
  until: number
  startedAt: number
  log: (record: NetworkFaultRecord) => void
}

/** Random integer in [lo, hi]. */
const between = (random: () => number, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
const pick = <T>(random: () => number, from: T[]): T => from[Math.floor(random() * from.length)]!

/** Two distinct elements of `from`, in random order. */
function pickTwo<T> (random: () => number, from: T[]): [T, T] {
  const first = Math.floor(random() * from.length)
  const second = (first + 1 + Math.floor(random() * (from.length - 1))) % from.length
  return [from[first]!, from[second]!]
}

/**
 * Injects one network fault at a time until `until` (wall clock), each held 2-8 s and then healed
 * before the next (a gap of 0.5-2 s between them): a full partition of one host (its link moves to a
 * bridge of its own); a one-way cut (one host drops all it receives from another); a cut between two
 * agents only (both directions; the owner still reaches both); loss on one host's link, with delay
 * when `tc netem` works. Whatever happens, the network is whole again when this returns.
 */
export async function injectNetworkFaults (options: NetworkInjectorOptions): Promise<NetworkFaultRecord[]> {
  const { random, net } = options
  const hosts = [options.owner, ...options.agents]
  const records: NetworkFaultRecord[] = []
  const note = (kind: NetworkFaultKind, detail: string): void => {
    const record = { atMs: Math.round(performance.now() - options.startedAt), kind, detail }
    records.push(record)
    options.log(record)
  }
  const heal = (): void => {
    net.heal()
    net.allowAll()
    if (options.netem) net.unimpair()
  }
  try {
    for (let i = 0; i < 100 && Date.now() < options.until; i++) {
      await sleep(between(random, 500, 2000))
      if (Date.now() >= options.until) break
      const ms = between(random, 2000, 8000)
      const roll = random()
      if (roll < 0.3) {
        const host = pick(random, hosts)
        note('partition', `host ${host} cut off for ${ms} ms`)
        net.partition([host])
      } else if (roll < 0.55) {
        const [to, from] = pickTwo(random, hosts)
        note('one-way', `host ${to} drops what host ${from} sends, for ${ms} ms`)
        net.dropFrom(to, [from])
      } else if (roll < 0.8) {
        const [a, b] = pickTwo(random, options.agents)
        note('agents-cut', `hosts ${a} and ${b} cannot reach each other, for ${ms} ms`)
        net.dropFrom(a, [b])
        net.dropFrom(b, [a])
      } else {
        const host = pick(random, hosts)
        const loss = between(random, 5, 30)
        if (options.netem) {
          const delay = between(random, 20, 200)
          note('netem', `host ${host}: ${delay} ms delay (±${Math.round(delay / 2)} ms), ${loss} % loss, for ${ms} ms`)
          net.impair(host, delay, Math.round(delay / 2), loss)
        } else {
          note('lossy', `host ${host}: ${loss} % loss each way (nftables; no tc netem), for ${ms} ms`)
          net.lossy(host, loss)
        }
      }
      try {
        await sleep(ms)
      } finally {
        heal()
      }
    }
  } finally {
    heal()
  }
  return records
}
