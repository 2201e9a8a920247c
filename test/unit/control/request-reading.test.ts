import { it, expect } from 'vitest'
import { pino } from 'pino'
import type { StreamHandler } from '@libp2p/interface'
import type { JsonStream } from '../../../src/transport/json-stream.ts'
import { answersWithin, startLargestRequests } from '../transport/largest-requests.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { channelClientHandler } from '../../../src/channels/client-protocol.ts'
import { CLIENT_PROTOCOL } from '../../../src/channels/schema.ts'
import type { Channel } from '../../../src/channels/channel.ts'
import { DEPLOYMENTS_PROTOCOL, deploymentsHandler } from '../../../src/deployments/protocol.ts'
import type { Deployments } from '../../../src/deployments/service.ts'
import { trustEveryone } from '../trust-stub.ts'

const log = pino({ level: 'silent' })

it.each([
  [CLIENT_PROTOCOL, (rejections: Rejections) => channelClientHandler({ read: () => ({}) as unknown as Channel, write: () => ({}) as unknown as Channel }, trustEveryone(), rejections)],
  [DEPLOYMENTS_PROTOCOL, (rejections: Rejections) => deploymentsHandler(() => ({}) as unknown as Deployments, trustEveryone(), rejections)]
])('%s: a client that starts the largest request on every stream it may open is refused (ERR_RATE_LIMITED, counted) past eight of them, instead of having each read at once', async (protocol: string, make: (rejections: Rejections) => StreamHandler) => {
  const rejections = new Rejections(log)
  const handler = make(rejections)
  let started: JsonStream[] = []
  try {
    started = await startLargestRequests(handler, 12)
    // the read deadlines are 5 and 10 s: these answers come at once, or not in this test
    const refused = await answersWithin(started.slice(8), 4000)
    expect(refused).toEqual(Array(4).fill({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) }))
    expect(rejections.counters()).toContainEqual({ protocol, reason: 'rate-limited', count: 4 })
  } finally {
    for (const json of started) json.stream.abort(new Error('test over'))
  }
})
