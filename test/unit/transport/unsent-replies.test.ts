import { it, expect } from 'vitest'
import { UnsentReplies } from '../../../src/transport/unsent-replies.ts'

it('holds answers per peer up to the bound; the first always goes, however large; releasing twice counts once', () => {
  const unsent = new UnsentReplies(100)
  const first = unsent.hold('a', 60)
  expect(first).toBeDefined()
  expect(unsent.hold('a', 50)).toBeUndefined()
  // another peer has a bound of its own
  const other = unsent.hold('b', 100)
  expect(other).toBeDefined()
  const second = unsent.hold('a', 40)
  expect(unsent.heldBy('a')).toBe(100)
  first!()
  first!()
  expect(unsent.heldBy('a')).toBe(40)
  second!()
  expect(unsent.heldBy('a')).toBe(0)
  // nothing held: an answer over the bound still goes (a result may be larger than the bound)
  const huge = unsent.hold('a', 1000)
  expect(huge).toBeDefined()
  expect(unsent.hold('a', 1)).toBeUndefined()
  huge!()
  other!()
  expect(unsent.heldBy('b')).toBe(0)
})
