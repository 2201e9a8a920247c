import { it, expect } from 'vitest'
import { pino } from 'pino'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { MemberBeats } from '../../../src/membership/beats.ts'
import { beatSchema } from '../../../src/membership/beat-line.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { trustEveryone } from '../trust-stub.ts'
import { newPeerId } from './stubs.ts'

const log = pino({ level: 'silent' })

it('a watcher that stops reading its connection and then ends its beat line does not hold the member\'s side of it for ever: its close waited for a drain that never came', async () => {
  let handler: StreamHandler | undefined
  const libp2p = { handle: async (_p: string, h: StreamHandler) => { handler = h }, unhandle: async () => {}, getConnections: () => [] }
  const member = new MemberBeats({ libp2p, roles: trustEveryone(), log, rejections: new Rejections(log), periodMs: 1000, incarnation: () => 42, onBeat: () => {} })
  await member.start()
  // real yamux on an in-memory connection the watcher can stop reading
  const [watcherConnection, memberConnection] = multiaddrConnectionPair()
  const watcherMuxer = yamux()().createStreamMuxer(watcherConnection)
  const memberMuxer = yamux()().createStreamMuxer(memberConnection)
  const accepted = new Promise<Stream>(resolve => { memberMuxer.addEventListener('stream', evt => { resolve(evt.detail) }, { once: true }) })
  const outbound = await watcherMuxer.createStream()
  const inbound = await accepted
  let ended = false
  void Promise.resolve(handler!(inbound, { remotePeer: await newPeerId() } as unknown as Connection)).finally(() => { ended = true })
  try {
    const line = new JsonStream(outbound)
    await line.write({ v: 1, everyMs: 20 })
    expect(await line.read(beatSchema, { signal: AbortSignal.timeout(5000) })).toEqual({ v: 1, incarnation: 42 })
    // reads nothing more: the member's sends queue, and its next beat waits for a drain
    watcherConnection.pause()
    await new Promise(resolve => setTimeout(resolve, 300))
    // then ends the line (its own write end): the member closes its side, which waited on that drain
    await outbound.close()
    const start = Date.now()
    // the close's deadline is 5 s: by 8 s the member has given the line up
    while (!ended && Date.now() - start < 8000) await new Promise(resolve => setTimeout(resolve, 50))
    expect(ended).toBe(true)
    expect(inbound.status).not.toBe('open')
  } finally {
    outbound.abort(new Error('test over'))
    inbound.abort(new Error('test over'))
    watcherConnection.abort(new Error('test over'))
    memberConnection.abort(new Error('test over'))
    await member.stop()
  }
}, 15_000)
