import { it, expect } from 'vitest'
import { pino } from 'pino'
import { PeerLog } from '../../../src/cli/peer-log.ts'

it('logs a peer connecting and disconnecting once a minute each, the next line counting those held back', () => {
  const lines: Array<Record<string, unknown>> = []
  const peers = new PeerLog(pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }))
  for (let i = 0; i < 100; i++) { peers.connected('A', i * 100); peers.disconnected('A', i * 100 + 5) }
  peers.connected('B', 50)
  expect(lines.map(l => `${String(l.msg)} ${String(l.peer)}`)).toEqual(['peer connected A', 'peer disconnected A', 'peer connected B'])
  peers.connected('A', 60_000)
  expect(lines.at(-1)).toMatchObject({ msg: 'peer connected', peer: 'A', sinceLastLine: 99 })
})
