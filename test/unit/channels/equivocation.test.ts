import { it, expect } from 'vitest'
import { LwwStore, compareEntries, markOf } from '../../../src/channels/store.ts'
import type { Entry } from '../../../src/channels/store.ts'

/** Two writes of one key under ONE stamp (a writer that equivocates, or a clock that went back), and a delete under it too. */
const stamp = { key: 'k', t: 1_700_000_000_000, c: 0, origin: '12D3KooWShsodkfwohba4JWdbAaHPMRFkpYpbHGdkbY9jH4fTNzq' }
const a: Entry = { ...stamp, value: 'a', deleted: false }
const b: Entry = { ...stamp, value: { b: [1, 2] }, deleted: false }
const gone: Entry = { ...stamp, deleted: true }

it('writes with one stamp and different contents converge whatever the order they come in (found by npm run fuzz: replicas kept the first, digests equal)', () => {
  const orders = [[a, b, gone], [b, gone, a], [gone, a, b], [b, a, gone]]
  const replicas = orders.map(order => {
    const store = new LwwStore()
    for (const e of order) store.apply(e, 0)
    return store
  })
  for (const r of replicas) {
    expect(r.all()).toEqual(replicas[0]!.all())
    expect(r.digest()).toBe(replicas[0]!.digest())
  }
})

it('replicas holding different contents under one stamp have different digests, so anti-entropy sees them differ', () => {
  for (const [mine, yours] of [[a, b], [b, a]] as const) {
    const one = new LwwStore()
    const other = new LwwStore()
    one.apply(mine, 0)
    other.apply(yours, 0)
    expect(one.digest()).not.toBe(other.digest())
    // an exchange: `one` merges `other`'s snapshot, and its delta back (from stamps and hashes only) carries the winner if `other` lacks it
    const answer = other.all()
    for (const e of answer) one.apply(e, 0)
    const back = one.newerThan(new Map(answer.map(e => [e.key, markOf(e)])))
    for (const e of back) other.apply(e, 0)
    expect(one.digest()).toBe(other.digest())
    expect(back).toHaveLength(compareEntries(mine, yours) > 0 ? 1 : 0)
  }
})
