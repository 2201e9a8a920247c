import type { ChannelReplica } from './channel.ts'

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
  /** Exchanges with `peer`; true when it had the channel open (never rejects). */
  exchange: (peer: string) => Promise<boolean>
  running: () => boolean
}

/**
 * The opening exchange of `channel`: it converges without waiting for writes. Right after the node's
 * start nobody may be known yet (its seeds are dialled after its parts started), so it waits for a
 * member; then it asks the members that have the channel open (gossipsub's subscriptions), else any,
 * OPEN_FANOUT at a time, until one that has it answered, or every member known (MAX_ASKED at most)
 * answered without it.
 * `ready` resolves then, or at READY_TIMEOUT_MS whatever happened; `synced` only then, the opening
 * going on past the bound (a seed not reachable yet) until it gets there or the node stops.
 */
export async function openingSync (channel: ChannelReplica, deps: OpeningDeps): Promise<void> {
  const started = Date.now()
  const asked = new Set<string>()
  const late = setTimeout(() => { channel.readyAtBound() }, READY_TIMEOUT_MS)
  try {
    while (deps.running()) {
      const subscribers = shuffle(deps.subscribers().filter(id => !asked.has(id)))
      const members = deps.members()
      const others = shuffle(members.filter(id => !asked.has(id) && !subscribers.includes(id)))
      const peers = [...subscribers, ...others].slice(0, OPEN_FANOUT)
      if (peers.length > 0) {
        for (const peer of peers) asked.add(peer)
        const answers = await Promise.all(peers.map(async peer => await deps.exchange(peer)))
        if (answers.includes(true) || asked.size >= MAX_ASKED) break
        continue
      }
      // nobody left to ask: every member known answered without it (none has it open), or none is known
      // and this node was given no peer (alone by design: others joining it get its writes by exchanges)
      if (asked.size > 0 || (members.length === 0 && deps.alone())) break
      await sleep(Date.now() - started < READY_TIMEOUT_MS ? LOOK_AGAIN_MS : LOOK_AGAIN_LATE_MS)
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
