import { it, expect } from 'vitest'
import { createRegistry } from '../../../src/metrics/collectors.ts'
import type { RejectedCount } from '../../../src/transport/rejections.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'

it('gridd_rejected_messages_total reports the node\'s rejected-message counters by protocol and reason', async () => {
  let rows: RejectedCount[] = [{ protocol: '/gridd/members/sync/1.0.0', reason: 'incarnation', count: 2 }]
  const { registry } = createRegistry({ self: () => ({ ...entry('S'), lastSeenMs: 0 }), members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => rows, certificateNotAfter: () => Date.now() + 90_000, tasksOverview: emptyOverview })
  expect(await registry.metrics()).toContain('gridd_rejected_messages_total{protocol="/gridd/members/sync/1.0.0",reason="incarnation"} 2')
  rows = [{ protocol: '/gridd/members/sync/1.0.0', reason: 'incarnation', count: 5 }, { protocol: 'gridd/members/1', reason: 'replay', count: 1 }]
  const text = await registry.metrics()
  expect(text).toContain('gridd_rejected_messages_total{protocol="/gridd/members/sync/1.0.0",reason="incarnation"} 5')
  expect(text).toContain('gridd_rejected_messages_total{protocol="gridd/members/1",reason="replay"} 1')
})
