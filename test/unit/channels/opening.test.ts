import { it, expect, vi, afterEach } from 'vitest'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { openingSync, READY_TIMEOUT_MS } from '../../../src/channels/opening.ts'
import type { OpeningDeps } from '../../../src/channels/opening.ts'

afterEach(() => { vi.useRealTimers() })

const replica = (): ChannelReplica => new ChannelReplica('cfg', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })

/** Deps over a made-up grid: `members` now, `holders` the ones that have the channel open; `asked` records each exchange. */
function grid (init: { members?: string[], holders?: string[], subscribers?: string[], alone?: boolean }): OpeningDeps & { asked: string[], members: () => string[], set: (members: string[], subscribers?: string[]) => void } {
  let members = init.members ?? []
  let subscribers = init.subscribers ?? []
  const asked: string[] = []
  return {
    asked,
    set: (m, s = []) => { members = m; subscribers = s },
    subscribers: () => subscribers,
    members: () => members,
    alone: () => init.alone ?? false,
    exchange: async peer => { asked.push(peer); return (init.holders ?? []).includes(peer) },
    running: () => true
  }
}

it('a node given no peer, with no member known, is synced at once', async () => {
  const channel = replica()
  await openingSync(channel, grid({ alone: true }))
  expect(channel.isSynced).toBe(true)
})

it('a node just started (its seed not dialled yet) waits for a member before its opening exchange: ready is not due with nobody asked', async () => {
  const channel = replica()
  const deps = grid({ holders: ['m1'] })
  const opening = openingSync(channel, deps)
  let ready = false
  void channel.ready.then(() => { ready = true })
  await new Promise(resolve => setTimeout(resolve, 300))
  expect(ready).toBe(false)
  deps.set(['m1'])
  await opening
  expect(deps.asked).toEqual(['m1'])
  expect(channel.isSynced).toBe(true)
})

it('members asked without the channel open do not make it ready while one that has it is known: it is asked next (subscribers first)', async () => {
  const channel = replica()
  const members = [...'abcdefghijklmnopqrst'].concat('holder')
  const deps = grid({ members, holders: ['holder'] })
  const opening = openingSync(channel, deps)
  // its subscription becomes known while the first members are asked (gossipsub hears of it after the connection)
  deps.set(members, ['holder'])
  await opening
  // the second round asks it first, and is the last
  expect(deps.asked).toHaveLength(6)
  expect(deps.asked[3]).toBe('holder')
  expect(channel.isSynced).toBe(true)
})

it('when every member known answered without the channel, nobody has it: synced', async () => {
  const channel = replica()
  const deps = grid({ members: ['a', 'b'] })
  await openingSync(channel, deps)
  expect(deps.asked.sort()).toEqual(['a', 'b'])
  expect(channel.isSynced).toBe(true)
})

it('with nobody ever known, ready resolves at its bound, not synced; the opening goes on until a member appears', async () => {
  vi.useFakeTimers()
  const channel = replica()
  const deps = grid({ holders: ['m1'] })
  const opening = openingSync(channel, deps)
  let ready = false
  void channel.ready.then(() => { ready = true })
  await vi.advanceTimersByTimeAsync(READY_TIMEOUT_MS + 10)
  expect(ready).toBe(true)
  expect(channel.isSynced).toBe(false)
  deps.set(['m1'])
  await vi.advanceTimersByTimeAsync(2000)
  await opening
  expect(channel.isSynced).toBe(true)
})
