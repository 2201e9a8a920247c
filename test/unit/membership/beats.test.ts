import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { streamPair } from '@libp2p/utils'
import * as v from 'valibot'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { MemberBeats } from '../../../src/membership/beats.ts'
import { BEAT_PROTOCOL } from '../../../src/membership/constants.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { trustEveryone } from '../trust-stub.ts'
import { newPeerId, pipedConnection } from './stubs.ts'

const log = pino({ level: 'silent' })
const PERIOD_MS = 1000

async function until (check: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/**
 * Two MemberBeats, a watcher and a member, joined by in-memory streams: every
 * `newStream` on the watcher's fake connection is a stream pair whose far end
 * goes to whatever handles the beat protocol on the member's side.
 */
async function pair (watcherPeriodMs = PERIOD_MS): Promise<{ watcher: MemberBeats, member: MemberBeats, memberId: string, beats: number[], lines: string[], opened: () => number, rejections: Rejections, handleWith: (h: StreamHandler | undefined) => void }> {
  const memberPeer = await newPeerId()
  const watcherPeer = await newPeerId()
  let handler: StreamHandler | undefined
  const { connection, opened } = pipedConnection(memberPeer, watcherPeer, () => handler)
  const rejections = new Rejections(log)
  const beats: number[] = []
  const lines: string[] = []
  const memberLibp2p = { handle: async (_p: string, h: StreamHandler) => { handler = h }, unhandle: async () => {}, getConnections: () => [] }
  const watcherLibp2p = { handle: async () => {}, unhandle: async () => {}, getConnections: () => [connection] }
  const member = new MemberBeats({ libp2p: memberLibp2p, roles: trustEveryone(), log, rejections, periodMs: PERIOD_MS, incarnation: () => 42, onBeat: () => {} })
  const watcher = new MemberBeats({ libp2p: watcherLibp2p, roles: trustEveryone(), log, rejections: new Rejections(log), periodMs: watcherPeriodMs, incarnation: () => 1, onBeat: (_id, incarnation) => { beats.push(incarnation) }, onLine: id => { lines.push(id) } })
  await member.start()
  await watcher.start()
  return { watcher, member, memberId: memberPeer.toString(), beats, lines, opened, rejections, handleWith: h => { handler = h } }
}

describe('member beats: the watched member beats unasked on one line per watcher', () => {
  it('a beat at once, then one each period the watcher asked for, all on the one line; unwatched, the beats stop', async () => {
    const { watcher, member, memberId, beats, lines, opened } = await pair(40)
    expect(watcher.watch([memberId])).toEqual([])
    await until(() => beats.length >= 5)
    // the watcher heard of the line once (a newly watched member's silence counts from it: table-watch.ts)
    expect(lines).toEqual([memberId])
    // watching again while the line is open opens nothing
    watcher.watch([memberId])
    expect(opened()).toBe(1)
    expect(new Set(beats)).toEqual(new Set([42]))
    watcher.watch([])
    await new Promise(resolve => setTimeout(resolve, 50))
    const seen = beats.length
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(beats).toHaveLength(seen)
    await watcher.stop()
    await member.stop()
  })

  it('a member without the beat protocol (an older node) is pinged instead, on that connection', async () => {
    const { watcher, memberId, opened, handleWith } = await pair()
    handleWith(undefined)
    expect(watcher.watch([memberId])).toEqual([])
    await until(() => watcher.watch([memberId]).length === 1)
    expect(watcher.watch([memberId])).toEqual([memberId])
    expect(opened()).toBe(1)
    await watcher.stop()
  })

  it('a watcher that speaks after its request has its line dropped and counted', async () => {
    const { member, rejections } = await pair()
    const [outbound, inbound] = await streamPair()
    const served = (member as unknown as { serve: (s: Stream, c: Connection) => Promise<void> }).serve(inbound, { remotePeer: await newPeerId() } as unknown as Connection)
    const line = new JsonStream(outbound)
    await line.write({ v: 1, everyMs: PERIOD_MS })
    expect(await line.read(v.unknown())).toEqual({ v: 1, incarnation: 42 })
    await line.write({ v: 1, everyMs: PERIOD_MS })
    await served
    expect(rejections.counters()).toEqual([expect.objectContaining({ protocol: BEAT_PROTOCOL, reason: 'malformed', count: 1 })])
    await member.stop()
  })

  it('a line its watcher\'s connection drops (a reset, a beat written to a closed stream) ends without being counted as a malformed message', async () => {
    const { member, rejections } = await pair(20)
    const [outbound, inbound] = await streamPair()
    const served = (member as unknown as { serve: (s: Stream, c: Connection) => Promise<void> }).serve(inbound, { remotePeer: await newPeerId() } as unknown as Connection)
    const line = new JsonStream(outbound)
    await line.write({ v: 1, everyMs: 20 })
    expect(await line.read(v.unknown())).toEqual({ v: 1, incarnation: 42 })
    outbound.abort(new Error('connection reset by the network'))
    await served
    expect(rejections.counters().filter(r => r.reason === 'malformed')).toEqual([])
    await member.stop()
  })

  it('a member beating far more often than asked has the line cut: the flood is not counted as beats', async () => {
    const { watcher, memberId, beats, handleWith } = await pair()
    const held: JsonStream[] = []
    handleWith(async stream => {
      const line = new JsonStream(stream)
      held.push(line)
      await line.read(v.unknown())
      for (let i = 0; i < 200; i++) await line.write({ v: 1, incarnation: 9 }).catch(() => {})
    })
    watcher.watch([memberId])
    await until(() => held.length === 1 && beats.length > 0)
    await new Promise(resolve => setTimeout(resolve, 100))
    // one a second since the line opened, plus the slack: nowhere near 200
    expect(beats.length).toBeLessThan(20)
    await watcher.stop()
  })
})
