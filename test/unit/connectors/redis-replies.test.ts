import { describe, it, expect } from 'vitest'
import { autoClaimReply, decodeEntry, readGroupReply } from '../../../src/connectors/redis-replies.ts'
import { entryOf, isDurableSink, isDurableSource } from '../../../src/connectors/types.ts'

describe('Redis replies are checked before use', () => {
  it('XREADGROUP: entries, deleted entries (null fields) and an empty read', () => {
    expect(readGroupReply(null)).toEqual([])
    expect(readGroupReply([['s', [['1-0', ['v', '1']], ['2-5', null]]]])).toEqual([{ id: '1-0', fields: ['v', '1'] }, { id: '2-5', fields: null }])
  })

  it.each([
    ['not an array', 'OK'],
    ['two streams', [['s', []], ['t', []]]],
    ['an entry id that is not <ms>-<seq>', [['s', [['x.1', ['v', '1']]]]]],
    ['an odd field list', [['s', [['1-0', ['v']]]]]],
    ['a field that is not a string', [['s', [['1-0', ['v', 1]]]]]]
  ])('XREADGROUP refuses %s', (_what, reply) => {
    expect(() => readGroupReply(reply)).toThrow(TypeError)
  })

  it('XAUTOCLAIM: the next cursor and the claimed entries; a bad shape is refused', () => {
    expect(autoClaimReply(['0-0', [['3-1', ['v', '"a"']]], []])).toEqual({ next: '0-0', claimed: [{ id: '3-1', fields: ['v', '"a"'] }], vanished: 0 })
    expect(() => autoClaimReply([0, []])).toThrow(TypeError)
    expect(() => autoClaimReply(['0-0', 'x'])).toThrow(TypeError)
  })

  it('XAUTOCLAIM on Redis 6.2: a deleted entry comes as a bare nil, skipped and counted (no id to ack)', () => {
    expect(autoClaimReply(['0-0', [null, ['3-1', ['v', '1']]]])).toEqual({ next: '0-0', claimed: [{ id: '3-1', fields: ['v', '1'] }], vanished: 1 })
    expect(autoClaimReply(['0-0', [['3-1', null]], ['2-0']])).toEqual({ next: '0-0', claimed: [{ id: '3-1', fields: null }], vanished: 0 })
  })

  it('decodes JSON in field v within the size limit, other fields as an object', () => {
    expect(decodeEntry(['id', 'x', 'v', '{"n":1}'], 100)).toEqual({ n: 1 })
    expect(decodeEntry(['a', '1', 'b', '2'], 100)).toEqual({ a: '1', b: '2' })
    expect(() => decodeEntry(['v', JSON.stringify('x'.repeat(200))], 100)).toThrow(RangeError)
    expect(() => decodeEntry(['v', '{not json'], 100)).toThrow(SyntaxError)
  })
})

describe('connector helpers', () => {
  it('entryOf strips fan-out suffixes; the type guards know the shapes', () => {
    expect(entryOf('1700000000000-0')).toBe('1700000000000-0')
    expect(entryOf('1700000000000-0.2.1')).toBe('1700000000000-0')
    // a source's own ids may hold dots: only the fan-out suffix (.<k>, repeated) is cut
    expect(entryOf('a.b:1')).toBe('a.b:1')
    expect(entryOf('a.b:1.0.2')).toBe('a.b:1')
    expect(isDurableSource({ entries: () => [], ack: () => {}, close: async () => {} })).toBe(true)
    expect(isDurableSource([1, 2, 3])).toBe(false)
    expect(isDurableSink(async () => {})).toBe(false)
    expect(isDurableSink({ write: async () => {}, close: async () => {} })).toBe(true)
  })
})
