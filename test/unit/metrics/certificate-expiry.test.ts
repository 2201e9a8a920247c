import { it, expect } from 'vitest'
import { createRegistry } from '../../../src/metrics/collectors.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'

it('gridd_certificate_expiry_seconds is the time left on the node\'s certificate, read at each scrape', async () => {
  let notAfter = Date.now() + 90_000
  const { registry } = createRegistry({ self: () => ({ ...entry('S'), lastSeenMs: 0 }), members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => [], certificateNotAfter: () => notAfter, tasksOverview: emptyOverview })
  const value = async (): Promise<number> => Number(/^gridd_certificate_expiry_seconds (\S+)$/m.exec(await registry.metrics())?.[1])
  expect(await value()).toBeGreaterThanOrEqual(89)
  expect(await value()).toBeLessThanOrEqual(90)
  notAfter = Date.now() - 10_000
  expect(await value()).toBeLessThanOrEqual(-9)
})
