import { it, expect } from 'vitest'
import { createRegistry } from '../../../src/metrics/collectors.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import { parse, value } from '../../integration/helpers/prom-text.ts'
import type { Member } from '../../../src/membership/member.ts'

it('gridd_placement_weight and gridd_placement_strategy follow the node\'s own placement, as `grid weight` / `grid strategy` change it', async () => {
  let self: Member = { ...entry('S'), lastSeenMs: 0 }
  const { registry } = createRegistry({ self: () => self, members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => [], certificateNotAfter: () => Date.now() + 90_000, tasksOverview: emptyOverview })
  let samples = parse(await registry.metrics())
  expect(value(samples, 'gridd_placement_weight')).toBe(self.weight)
  expect(value(samples, 'gridd_placement_strategy', { strategy: self.strategy })).toBe(1)
  // drained: weight 0, and packed
  self = { ...self, weight: 0, strategy: 'vertical' }
  samples = parse(await registry.metrics())
  expect(value(samples, 'gridd_placement_weight')).toBe(0)
  expect(value(samples, 'gridd_placement_strategy', { strategy: 'vertical' })).toBe(1)
  expect(value(samples, 'gridd_placement_strategy', { strategy: 'horizontal' })).toBe(0)
})
