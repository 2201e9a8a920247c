import { it, expect } from 'vitest'
import { ReadBudget, UNCHARGED_BYTES } from '../../../src/transport/read-budget.ts'

const MiB = 1024 * 1024

it('peers announcing large messages and sending nothing cannot lock others out: a peer holding nothing may start one message, and small ones are never refused', () => {
  const budget = new ReadBudget(8 * MiB, 32 * MiB)
  // four peers fill the total with announced 1 MiB messages (8 each: their own cap)
  for (const attacker of ['a1', 'a2', 'a3', 'a4']) for (let i = 0; i < 8; i++) budget.of(attacker).take(MiB)
  expect(() => budget.of('a1').take(MiB)).toThrow(expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }))
  // an honest peer still gets its first message in, and its small ones (a list, a kill) whatever is held
  const release = budget.of('honest').take(MiB)
  expect(() => budget.of('honest').take(MiB)).toThrow(expect.objectContaining({ code: 'ERR_RATE_LIMITED' }))
  for (let i = 0; i < 100; i++) budget.of('honest').take(UNCHARGED_BYTES)
  expect(budget.heldBy('honest')).toBe(MiB)
  release()
  expect(budget.heldBy('honest')).toBe(0)
  // the per-peer cap holds as before
  const other = new ReadBudget(8 * MiB, 32 * MiB).of('other')
  for (let i = 0; i < 8; i++) other.take(MiB)
  expect(() => other.take(MiB)).toThrow(expect.objectContaining({ code: 'ERR_RATE_LIMITED' }))
})

it('a release is counted once, however often it is called', () => {
  const budget = new ReadBudget(8 * MiB, 32 * MiB)
  const release = budget.of('p').take(2 * MiB)
  budget.of('p').take(MiB)
  release()
  release()
  expect(budget.heldBy('p')).toBe(MiB)
})
