import { it, expect, vi, afterEach } from 'vitest'
import { pino } from 'pino'
import { PeerLog } from '../../../src/cli/peer-log.ts'

afterEach(() => { vi.useRealTimers() })

function recorded (): { lines: Array<Record<string, unknown>>, peers: PeerLog } {
  const lines: Array<Record<string, unknown>> = []
  const peers = new PeerLog(pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }))
  return { lines, peers }
}

it('logs a redialling peer once a minute, the next line counting those held back', () => {
  vi.useFakeTimers({ now: 0 })
  const { lines, peers } = recorded()
  for (let i = 0; i < 100; i++) { peers.connected('A'); vi.advanceTimersByTime(5); peers.disconnected('A'); vi.advanceTimersByTime(95) }
  peers.connected('B')
  // 10 s in: one line for A, one for B
  expect(lines.map(l => `${String(l.msg)} ${String(l.peer)}`)).toEqual(['peer connected A', 'peer connected B'])
  vi.advanceTimersByTime(50_000)
  // the window's end: the state A is in then, and how many events were held
  expect(lines.at(-1)).toMatchObject({ msg: 'peer disconnected', peer: 'A', sinceLastLine: 199 })
  peers.close()
})

it('the last line about a peer is the state it is in: a reconnect within the window is logged at its end', () => {
  vi.useFakeTimers({ now: 0 })
  const { lines, peers } = recorded()
  peers.connected('A')
  vi.advanceTimersByTime(1000)
  peers.disconnected('A')
  vi.advanceTimersByTime(1000)
  peers.connected('A')
  expect(lines.map(l => String(l.msg))).toEqual(['peer connected'])
  vi.advanceTimersByTime(60_000)
  expect(lines.map(l => String(l.msg))).toEqual(['peer connected', 'peer connected'])
  // written at the minute's end, it says when the reconnect happened (2 s in)
  expect(lines.at(-1)).toMatchObject({ peer: 'A', sinceLastLine: 2, eventAt: new Date(2000).toISOString() })
  // nothing more held: no further line
  vi.advanceTimersByTime(120_000)
  expect(lines).toHaveLength(2)
  peers.close()
})

it('lines name the peer by its certificate when given, a disconnect that comes without the name included', () => {
  vi.useFakeTimers({ now: 0 })
  const { lines, peers } = recorded()
  peers.connected('A', 'node-a')
  peers.connected('B')
  expect(lines).toMatchObject([{ msg: 'peer connected', peer: 'A', name: 'node-a' }, { msg: 'peer connected', peer: 'B' }])
  expect(lines[1]).not.toHaveProperty('name')
  // its certificate dropped (revoked): the disconnect comes without a name, the line still gives the one known
  vi.advanceTimersByTime(1000)
  peers.disconnected('A')
  vi.advanceTimersByTime(60_000)
  expect(lines.at(-1)).toMatchObject({ msg: 'peer disconnected', peer: 'A', name: 'node-a', sinceLastLine: 1 })
  vi.advanceTimersByTime(60_000)
  peers.disconnected('A')
  expect(lines.at(-1)).toMatchObject({ msg: 'peer disconnected', peer: 'A', name: 'node-a' })
  peers.close()
})
