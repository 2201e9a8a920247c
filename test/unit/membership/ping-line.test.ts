import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { streamPair } from '@libp2p/utils'
import * as v from 'valibot'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { MemberPings } from '../../../src/membership/pings.ts'
import { PING_PROTOCOL } from '../../../src/membership/constants.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { trustEveryone } from '../trust-stub.ts'
import { newPeerId, pipedConnection } from './stubs.ts'

const log = pino({ level: 'silent' })

/**
 * Two MemberPings, a watcher and a member, joined by in-memory streams: every
 * `newStream` on the watcher's fake connection is a stream pair whose far end
 * goes to whatever handles the ping protocol on the member's side.
 */
async function pair (incarnation = 7): Promise<{ watcher: MemberPings, member: MemberPings, memberId: string, opened: () => number, rejections: Rejections, handleWith: (h: StreamHandler) => void }> {
  const memberPeer = await newPeerId()
  const watcherPeer = await newPeerId()
  let handler: StreamHandler | undefined
  const { connection, opened } = pipedConnection(memberPeer, watcherPeer, () => handler)
  const rejections = new Rejections(log)
  const memberLibp2p = { handle: async (_p: string, h: StreamHandler) => { handler = h }, unhandle: async () => {}, getConnections: () => [] }
  const watcherLibp2p = { handle: async () => {}, unhandle: async () => {}, getConnections: () => [connection] }
  const member = new MemberPings(memberLibp2p, trustEveryone(), log, rejections, () => incarnation)
  const watcher = new MemberPings(watcherLibp2p, trustEveryone(), log, new Rejections(log), () => 1)
  await member.start()
  return { watcher, member, memberId: memberPeer.toString(), opened, rejections, handleWith: h => { handler = h } }
}

describe('member pings on one long-lived stream', () => {
  it('answers every ping with the incarnation, all on the one stream it opened first', async () => {
    const { watcher, member, memberId, opened } = await pair(42)
    const signal = new AbortController().signal
    for (let i = 0; i < 20; i++) expect(await watcher.ping(memberId, 1000, signal)).toBe(42)
    // pings in the same turn share the line too, and their answers come back in order
    expect(await Promise.all([watcher.ping(memberId, 1000, signal), watcher.ping(memberId, 1000, signal)])).toEqual([42, 42])
    expect(opened()).toBe(1)
    await watcher.stop()
    await member.stop()
  })

  it('a member that answers once and closes (one ping per stream) is still answered, on a new stream each time', async () => {
    const { watcher, memberId, opened, handleWith } = await pair()
    handleWith(async stream => {
      const json = new JsonStream(stream)
      await json.read(v.unknown())
      await json.write({ v: 1, incarnation: 3 })
      await json.close()
    })
    const signal = new AbortController().signal
    for (let i = 0; i < 3; i++) {
      expect(await watcher.ping(memberId, 1000, signal)).toBe(3)
      // the close reaches the watcher's reader just after the answer
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(opened()).toBe(3)
    await watcher.stop()
  })

  it('a silent member: each ping is unanswered at its timeout, and a line with 8 waiting is dropped for a new one', async () => {
    const { watcher, memberId, opened, handleWith } = await pair()
    const held: Stream[] = []
    handleWith(async stream => { held.push(stream) }) // reads nothing, answers nothing
    const signal = new AbortController().signal
    for (let i = 0; i < 8; i++) expect(await watcher.ping(memberId, 20, signal)).toBeUndefined()
    expect(opened()).toBe(1)
    expect(await watcher.ping(memberId, 20, signal)).toBeUndefined()
    expect(await watcher.ping(memberId, 20, signal)).toBeUndefined()
    expect(opened()).toBe(2)
    await watcher.stop()
    for (const s of held) s.abort(new Error('test over'))
  })

  it('a peer flooding one line with pings has it cut and counted; the member answers the next line', async () => {
    const { watcher, memberId, rejections, handleWith, member } = await pair(5)
    const [outbound, inbound] = await streamPair()
    const handled = (member as unknown as { answer: (s: Stream, c: Connection) => Promise<void> }).answer(inbound, { remotePeer: await newPeerId() } as unknown as Connection)
    const flood = new JsonStream(outbound)
    const answers: unknown[] = []
    const reading = (async () => { for (;;) answers.push(await flood.read(v.unknown())) })().catch(() => {})
    // 200 at once: however slow this machine, more than 50 arrive within one second
    await Promise.all(Array.from({ length: 200 }, async () => { await flood.write({ v: 1 }).catch(() => {}) }))
    // then the end of the line, so a member that did not cut it stops at the end (and this test fails, not hangs)
    await flood.close()
    await handled
    await reading
    // the limit counts pings per clock second: a flood that straddles a second's end is cut by the 51st
    // of the second one, so at most 100 are answered, never all 200
    expect(answers.length).toBeLessThanOrEqual(100)
    expect(rejections.counters()).toEqual([expect.objectContaining({ protocol: PING_PROTOCOL, reason: 'malformed', count: 1 })])
    handleWith(async (stream, connection) => { await (member as unknown as { answer: (s: Stream, c: Connection) => Promise<void> }).answer(stream, connection) })
    expect(await watcher.ping(memberId, 1000, new AbortController().signal)).toBe(5)
    await watcher.stop()
  })
})

describe('member pings: a line the network drops', () => {
  it('a line its watcher\'s connection resets ends without being counted as a malformed message', async () => {
    const { member, rejections } = await pair(5)
    const [outbound, inbound] = await streamPair()
    const handled = (member as unknown as { answer: (s: Stream, c: Connection) => Promise<void> }).answer(inbound, { remotePeer: await newPeerId() } as unknown as Connection)
    const line = new JsonStream(outbound)
    await line.write({ v: 1 })
    expect(await line.read(v.unknown())).toEqual({ v: 1, incarnation: 5 })
    outbound.abort(new Error('connection reset by the network'))
    await handled
    expect(rejections.counters().filter(r => r.reason === 'malformed')).toEqual([])
  })
})

describe('member pings: lines to members no longer pinged', () => {
  it('are closed and let go when the watcher stops pinging those members (the ring moved on), not kept for good', async () => {
    const watcherPeer = await newPeerId()
    const memberSide: Stream[] = []
    const member = new MemberPings({ handle: async () => {}, unhandle: async () => {}, getConnections: () => [] }, trustEveryone(), log, new Rejections(log), () => 9)
    const answer = (member as unknown as { answer: (s: Stream, c: Connection) => Promise<void> }).answer.bind(member)
    // 30 older members (they answer pings, not beats), one after the other on the watcher's ring
    const ids: string[] = []
    const connections = new Map<string, Connection>()
    for (let i = 0; i < 30; i++) {
      const peer = await newPeerId()
      ids.push(peer.toString())
      connections.set(peer.toString(), pipedConnection(peer, watcherPeer, () => async (stream, connection) => { memberSide.push(stream); await answer(stream, connection) }).connection)
    }
    const watcher = new MemberPings({ handle: async () => {}, unhandle: async () => {}, getConnections: (peer?: unknown) => [connections.get(String(peer))!] }, trustEveryone(), log, new Rejections(log), () => 1)
    const signal = new AbortController().signal
    for (const id of ids) {
      expect(await watcher.ping(id, 1000, signal)).toBe(9)
      watcher.keepLines([id])
    }
    // the line of the member pinged now stays; the 29 before it were closed when the watcher moved on
    const start = Date.now()
    while (memberSide.filter(s => s.status === 'open').length > 1 && Date.now() - start < 2000) await new Promise(resolve => setTimeout(resolve, 10))
    expect(memberSide.filter(s => s.status === 'open')).toHaveLength(1)
    expect((watcher as unknown as { lines: Map<string, unknown> }).lines.size).toBe(1)
    await watcher.stop()
  })
})
