import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { pino } from 'pino'
import * as v from 'valibot'
import type { StreamHandler } from '@libp2p/interface'
import { FakeNetwork } from '../owner/stubs.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { CONTROL_PROTOCOL, controlHandler } from '../../../src/control/control.ts'
import { STATUS_PROTOCOL, statusHandler } from '../../../src/control/status.ts'
import { channelClientHandler } from '../../../src/channels/client-protocol.ts'
import { CLIENT_PROTOCOL } from '../../../src/channels/schema.ts'
import { entry } from '../membership/helpers.ts'
import type { Channel } from '../../../src/channels/channel.ts'

const FLOOD = 25

it('malformed control, status and channel requests are counted by protocol and logged once per peer, not once each (found by npm run fuzz)', async () => {
  const lines: string[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line) } })
  const rejections = new Rejections(log)
  const network = new FakeNetwork()
  const node = await network.peer()
  const rogue = await network.peer()
  const handlers: Record<string, StreamHandler> = {
    [CONTROL_PROTOCOL]: controlHandler({ setWeight: () => {}, setStrategy: () => {}, placement: () => ({ weight: 1, strategy: 'horizontal' }) }, log, rejections),
    [STATUS_PROTOCOL]: statusHandler(() => ({ self: { ...entry('S'), lastSeenMs: 0 }, members: [] }), rejections),
    [CLIENT_PROTOCOL]: channelClientHandler({ read: () => ({}) as unknown as Channel, write: () => ({}) as unknown as Channel }, trustEveryone(), rejections)
  }
  for (const [protocol, handler] of Object.entries(handlers)) await node.libp2p.handle(protocol, handler)
  for (const protocol of Object.keys(handlers)) {
    for (let i = 0; i < FLOOD; i++) {
      const json = new JsonStream(await rogue.libp2p.dialProtocol(peerIdFromString(node.id), protocol))
      // each is off-schema in its own way: a wrong op, a wrong type, an unknown op
      await json.write(protocol === STATUS_PROTOCOL ? { all: 'yes' } : { op: 'set-weight-x', weight: 1e308, channel: '../x' })
      await json.read(v.unknown()).catch(() => {})
    }
  }
  await new Promise(resolve => setTimeout(resolve, 50))
  expect(rejections.counters().sort((a, b) => a.protocol.localeCompare(b.protocol))).toEqual([
    { protocol: CLIENT_PROTOCOL, reason: 'malformed', count: FLOOD },
    { protocol: CONTROL_PROTOCOL, reason: 'malformed', count: FLOOD },
    { protocol: STATUS_PROTOCOL, reason: 'malformed', count: FLOOD }
  ])
  // one warning per protocol for this peer within the minute, where it was one per request
  expect(lines.filter(l => l.includes('"level":40'))).toHaveLength(3)
})
