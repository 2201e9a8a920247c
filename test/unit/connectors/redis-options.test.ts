import { describe, it, expect } from 'vitest'
import { redisStreamSink, redisStreamSource } from '../../../src/connectors/index.ts'
import { ConfigError } from '../../../src/errors.ts'

const URL = 'redis://127.0.0.1:1'

/** The option a call refuses, or undefined when it takes them (nothing connects before the first read or write). */
async function refused (make: () => { close: () => Promise<void> }): Promise<string | undefined> {
  let made
  try {
    made = make()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).option
  }
  await made.close()
  return undefined
}

describe('Redis connector options are checked at the call', () => {
  it('the source refuses a misspelt key, a bad URL, and batch, blockMs or claimIdleMs Redis would refuse or block on for ever', async () => {
    const source = (extra: object): (() => { close: () => Promise<void> }) => () => redisStreamSource({ url: URL, stream: 's', group: 'g', ...extra })
    expect(await refused(source({}))).toBeUndefined()
    expect(await refused(source({ batch: 16, blockMs: 200, claimIdleMs: 1000, endWhenEmpty: true, stallWarnMs: 500 }))).toBeUndefined()
    expect(await refused(source({ claimIdelMs: 1000 }))).toBe('redisStreamSource.claimIdelMs')
    expect(await refused(source({ url: 'localhost:6379' }))).toBe('url')
    expect(await refused(source({ stream: '' }))).toBe('stream')
    expect(await refused(source({ batch: 0 }))).toBe('batch')
    expect(await refused(source({ blockMs: 0 }))).toBe('blockMs')
    expect(await refused(source({ claimIdleMs: 1.5 }))).toBe('claimIdleMs')
    expect(await refused(source({ endWhenEmpty: 'yes' }))).toBe('endWhenEmpty')
    expect(await refused(source({ decode: 'json' }))).toBe('decode')
    expect(await refused(source({ reconnectMaxMs: 100 }))).toBeUndefined()
    expect(await refused(source({ reconnectMaxMs: 0 }))).toBe('reconnectMaxMs')
  })

  it('the sink refuses a misspelt key, a bad URL, a negative maxLen and an encode that is no function', async () => {
    const sink = (extra: object): (() => { close: () => Promise<void> }) => () => redisStreamSink({ url: URL, stream: 'out', ...extra })
    expect(await refused(sink({ maxLen: 1000, dedupeTtlS: 60 }))).toBeUndefined()
    expect(await refused(sink({ maxlen: 1000 }))).toBe('redisStreamSink.maxlen')
    expect(await refused(sink({ url: 5 }))).toBe('url')
    expect(await refused(sink({ maxLen: -1 }))).toBe('maxLen')
    expect(await refused(sink({ dedupeTtlS: 0.5 }))).toBe('dedupeTtlS')
    expect(await refused(sink({ encode: JSON }))).toBe('encode')
    expect(await refused(sink({ reconnectMaxMs: 100 }))).toBeUndefined()
    expect(await refused(sink({ reconnectMaxMs: -5 }))).toBe('reconnectMaxMs')
  })
})
