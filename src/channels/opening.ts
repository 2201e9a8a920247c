import type { ChannelReplica } from './channel.ts'
import type { ExchangeOutcome } from './sync.ts'

/** Members asked at once for a snapshot when a channel opens. */
export const OPEN_FANOUT = 3
/**
 * Members asked in all when none of them has the channel open: a grid where nobody has it (a new channel)
 * costs a few small exchanges, not one per member. One opening it later is heard of by its subscription.
 */
const MAX_ASKED = 3 * OPEN_FANOUT
/** `channel.ready` resolves after this even if the opening exchange has not reached the grid yet. */
export const READY_TIMEOUT_MS = 5000
/** How often the opening looks again for a member to ask (one may join, or its subscriptions arrive). */
const LOOK_AGAIN_MS = 100
/** Past READY_TIMEOUT_MS the opening goes on (the view is not synced yet), looking this often at most. */
const LOOK_AGAIN_LATE_MS = 1000

export interface OpeningDeps {
  /** Members gossipsub knows to have the channel open. */
  subscribers: () => string[]
  /** Alive members' ids. */
  members: () => string[]
  /** Whether this node was given no peer to join: with no member known, it is alone by design. */
  alone: () => boolean
  /** Exchanges with `peer` (never rejects). */
  exchange: (peer: string) => Promise<ExchangeOutcome>
  running: () => boolean
}

/**
 * The opening exchange of `channel`: it converges without waiting for writes. Right after the node's
 * start nobody may be known yet (its seeds are dialled after its parts started), so it waits for a
 * member; then it asks the members that have the channel open (gossipsub's subscriptions), else any,
 * OPEN_FANOUT at a time, until one that has it answered, or every member known (MAX_ASKED at most)
 * answered without it; a member that gave no answer (not dialled yet, a reset) is asked again.
 * `ready` resolves then, or at READY_TIMEOUT_MS whatever happened; `synced` only then, the opening
 * going on past the bound (a seed not reachable yet) until it gets there or the node stops.
 */
export async function openingSync (channel: ChannelReplica, deps: OpeningDeps): Promise<void> {
  const started = Date.now()
  /** Members that answered they do not have the channel open (one that failed to answer is asked again). */
  const answered = new Set<string>()
  const late = setTimeout(() => { channel.readyAtBound() }, READY_TIMEOUT_MS)
  const pause = async (): Promise<void> => { await sleep(Date.now() - started < READY_TIMEOUT_MS ? LOOK_AGAIN_MS : LOOK_AGAIN_LATE_MS) }
  try {
    while (deps.running()) {
      const subscribers = shuffle(deps.subscribers().filter(id => !answered.has(id)))
      const members = deps.members()
      const others = shuffle(members.filter(id => !answered.has(id) && !subscribers.includes(id)))
      const peers = [...subscribers, ...others].slice(0, OPEN_FANOUT)
      if (peers.length > 0) {
        const outcomes = await Promise.all(peers.map(async peer => await deps.exchange(peer)))
        if (outcomes.includes('open')) break
        // a failed exchange (a member not dialled yet, a reset) is no answer: it is asked again after a pause, or a
        // holder not reached yet would be taken for one that has not the channel open; past READY_TIMEOUT_MS one
        // still not answering is taken as not having it (a partition: the view is then as synced as it gets)
        const givenUp = Date.now() - started >= READY_TIMEOUT_MS
        peers.forEach((peer, i) => { if (outcomes[i] === 'closed' || givenUp) answered.add(peer) })
        if (answered.size >= MAX_ASKED) break
        if (outcomes.includes('failed')) await pause()
        continue
      }
      // nobody left to ask: every member known answered without it (none has it open), or none is known
      // and this node was given no peer (alone by design: others joining it get its writes by exchanges)
      if (answered.size > 0 || (members.length === 0 && deps.alone())) break
      await pause()
    }
  } finally {
    clearTimeout(late)
  }
  if (deps.running()) channel.synced()
  else channel.readyAtBound()
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => { setTimeout(resolve, ms).unref() })
}

function shuffle<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
