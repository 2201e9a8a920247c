import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { entrySchema } from '../../../src/channels/schema.ts'
import { HlcClock, MAX_COUNTER } from '../../../src/channels/hlc.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { verifyEntry } from '../../../src/channels/signature.ts'
import { identity } from './identity.ts'
import { resolveChannelsConfig } from '../../../src/channels/config.ts'
import { ChannelLimitError, ConfigError, ERR_CHANNEL_LIMIT } from '../../../src/errors.ts'

const me = identity()
const other = identity()
const rogue = identity()

function member (who: ReturnType<typeof identity>, limits: { maxKeys?: number, maxBytes?: number } = {}, now: () => number = Date.now): ChannelReplica {
  return new ChannelReplica('cfg', { selfId: who.id, clock: new HlcClock({ now }), maxValueBytes: 1024, publish: () => {}, running: () => true, sign: who.sign, verify: verifyEntry, ...limits })
}

describe('authored writes', () => {
  it('a snapshot entry with a forged origin and a 2^53-1 counter is refused: the node\'s own later write still wins', () => {
    const victim = member(me)
    victim.set('k', 'mine')
    const now = Date.now()
    // the rogue claims the victim's own write, a moment ahead, with a counter no later write could pass
    const forged: Entry = { key: 'k', value: 'evil', deleted: false, t: now + 30_000, c: Number.MAX_SAFE_INTEGER, origin: me.id }
    forged.sig = rogue.sign('cfg', forged)
    expect(v.safeParse(entrySchema, forged).success).toBe(false) // the wire refuses the counter
    expect(victim.merge([forged])).toMatchObject({ changed: 0, forged: 1 })
    victim.set('k', 'mine-again')
    expect(victim.get('k')).toBe('mine-again')
  })

  it('a forged origin is refused even with a counter in range, and an unsigned relayed write too', () => {
    const victim = member(me)
    const forged: Entry = { key: 'k', value: 'evil', deleted: false, t: Date.now(), c: 5, origin: other.id }
    forged.sig = rogue.sign('cfg', forged)
    const unsigned: Entry = { key: 'j', value: 'evil', deleted: false, t: Date.now(), c: 0, origin: other.id }
    expect(victim.merge([forged, unsigned])).toMatchObject({ changed: 0, forged: 2 })
    expect(victim.entries()).toEqual([])
  })

  it('another member\'s signed writes relay through any member, and a tampered one is refused', () => {
    const author = member(other)
    author.set('k', { n: 1 })
    author.delete('gone')
    const relayed = author.snapshot()
    const receiver = member(me)
    expect(receiver.merge(relayed.map(e => ({ ...e })))).toMatchObject({ changed: 2, forged: 0 })
    expect(receiver.get('k')).toEqual({ n: 1 })
    const tampered = { ...relayed.find(e => e.key === 'k')!, value: { n: 2 }, t: Date.now() + 1000 }
    expect(receiver.merge([tampered])).toMatchObject({ changed: 0, forged: 1 })
    // nor can a write be replayed into another channel: the signature covers the channel name
    expect(verifyEntry('other-channel', relayed[0]!)).toBe(false)
    expect(verifyEntry('cfg', relayed[0]!)).toBe(true)
  })
})

describe('tombstones', () => {
  it('a signed tombstone carrying a 200 KB value is stored and relayed without it (its signature covers none)', () => {
    const channel = member(me, { maxBytes: 100_000 })
    const tombstone: Entry = { key: 'gone', deleted: true, t: Date.now(), c: 0, origin: other.id }
    tombstone.sig = other.sign('cfg', tombstone)
    const loaded = { ...tombstone, value: 'x'.repeat(200_000) }
    expect(verifyEntry('cfg', loaded)).toBe(true) // the payload does not break the signature: it is not signed
    expect(channel.merge([loaded])).toMatchObject({ changed: 1, tooLarge: 0, full: 0 })
    const [kept] = channel.snapshot()
    expect(kept).toMatchObject({ key: 'gone', deleted: true, origin: other.id })
    expect('value' in kept!).toBe(false)
    expect(JSON.stringify(channel.snapshot()).length).toBeLessThan(1000)
    expect(verifyEntry('cfg', kept!)).toBe(true) // still relayable
  })

  it('the rest of a remote entry is bounded too: a tombstone with an oversized signature field is refused', () => {
    const channel = member(me)
    const odd: Entry = { key: 'k', deleted: true, t: Date.now(), c: 0, origin: other.id, sig: 'A'.repeat(10_000) }
    expect(channel.merge([odd])).toMatchObject({ changed: 0, tooLarge: 1 })
  })
})

describe('bounded clock', () => {
  it('refuses a remote counter past MAX_COUNTER and a stamp more than a minute ahead', () => {
    const clock = new HlcClock({ now: () => 1000 })
    expect(clock.receive({ t: 1000, c: Number.MAX_SAFE_INTEGER })).toBe(false)
    expect(clock.receive({ t: 1000 + 61_000, c: 0 })).toBe(false)
    expect(clock.tick()).toEqual({ t: 1000, c: 0 })
  })

  it('a counter that would pass MAX_COUNTER advances the wall part instead', () => {
    const clock = new HlcClock({ now: () => 1000 })
    expect(clock.receive({ t: 1000, c: MAX_COUNTER - 1 })).toBe(true) // now at MAX_COUNTER
    expect(clock.tick()).toEqual({ t: 1001, c: 0 }) // a local event overflows into the next ms
    expect(clock.receive({ t: 1001, c: MAX_COUNTER })).toBe(true) // a merge overflows too
    expect(clock.tick()).toEqual({ t: 1002, c: 1 })
  })
})

describe('channel caps', () => {
  it('keys: a local write past the cap throws ChannelLimitError; remote ones are taken up to twice it, then dropped and counted; a rewrite still fits', () => {
    const channel = member(me, { maxKeys: 2 })
    channel.set('a', 1)
    channel.set('b', 2)
    const err = (() => { try { channel.set('c', 3) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(ChannelLimitError)
    expect((err as ChannelLimitError).code).toBe(ERR_CHANNEL_LIMIT)
    channel.set('a', 10) // an existing key is no new key
    expect(channel.get('a')).toBe(10)
    const author = member(other)
    for (const key of ['x', 'y', 'z']) author.set(key, 1)
    expect(channel.merge(author.snapshot())).toMatchObject({ changed: 2, full: 1 })
    expect(channel.keys()).toHaveLength(4)
    expect(() => { channel.set('c', 3) }).toThrow(ChannelLimitError)
    expect(channel.delete('a')).toBe(true) // adds nothing: fits even past the cap
  })

  it('replicas with the same caps converge when each filled the channel with different writes (they diverged for good)', () => {
    for (const limits of [{ maxKeys: 3 }, { maxBytes: 3 * 1000 }]) {
      const a = member(me, limits)
      const b = member(other, limits)
      for (const key of ['k1', 'k2', 'k3']) { try { a.set(key, 'a'.repeat(600)) } catch {} }
      b.set('k4', 'b'.repeat(600))
      const [fromA, fromB] = [a.snapshot(), b.snapshot()]
      expect(a.merge(fromB)).toMatchObject({ full: 0 })
      expect(b.merge(fromA)).toMatchObject({ full: 0 })
      expect(a.digest()).toBe(b.digest())
      // the local cap still holds
      expect(() => { a.set('k5', 'more') }).toThrow(ChannelLimitError)
    }
  })

  it('bytes: values are counted, and replacing a value frees the old one', () => {
    const channel = member(me, { maxBytes: 2000 })
    channel.set('a', 'x'.repeat(900))
    channel.set('a', 'y'.repeat(900)) // replaces: still ~1.2 KB
    expect(() => { channel.set('b', 'z'.repeat(900)) }).toThrow(ChannelLimitError)
    expect(channel.keys()).toEqual(['a'])
  })

  it('the options are checked: a sync message must hold one value', () => {
    expect(resolveChannelsConfig({ maxChannels: 4, maxKeysPerChannel: 10, syncMessageBytes: 8192, maxValueBytes: 1024 })).toMatchObject({ maxChannels: 4, syncMessageBytes: 8192 })
    expect(() => resolveChannelsConfig({ maxValueBytes: 64 * 1024, syncMessageBytes: 8192 })).toThrow(ConfigError)
    expect(() => resolveChannelsConfig({ maxChannels: 0 })).toThrow(ConfigError)
    expect(() => resolveChannelsConfig({ maxKeysPerChannel: 1.5 })).toThrow(ConfigError)
  })
})
