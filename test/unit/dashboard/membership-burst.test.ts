import { it, expect } from 'vitest'
import { connect } from 'node:net'
import { once } from 'node:events'
import { pino } from 'pino'
import { startDashboard } from '../../../src/dashboard/server.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'

it('a burst of membership events (a sync listing hundreds of members) sends the open pages one snapshot, not one per event, and drops none of them', async () => {
  const members = Array.from({ length: 300 }, (_, i) => ({ ...entry(`member-${i}`), lastSeenMs: 0 }))
  const listeners: Array<() => void> = []
  let snapshots = 0
  const node = {
    self: () => { snapshots++; return members[0]! },
    members: () => members.slice(1),
    pipelines: () => [],
    tasksOverview: emptyOverview,
    on: (_event: string, listener: () => void) => { listeners.push(listener) },
    off: () => {}
  }
  const warnings: string[] = []
  const dashboard = await startDashboard(node, { port: 0, intervalMs: 60_000 }, pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line) } }))
  const port = Number(new URL(dashboard.url).port)
  const socket = connect(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
    await once(socket, 'data')
    snapshots = 0
    // what a member sync of 299 newcomers emits: one member:join each, in one go
    const join = listeners[0]!
    for (let i = 0; i < 299; i++) join()
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(snapshots).toBeLessThanOrEqual(2)
    expect(warnings.join('')).not.toContain('not reading')
  } finally {
    socket.destroy()
    await dashboard.close()
  }
})
