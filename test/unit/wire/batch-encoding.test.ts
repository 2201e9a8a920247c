import { describe, it, expect } from 'vitest'
import { encodeBatch } from '../../../src/wire/batch-encoding.ts'
import type { BatchShape } from '../../../src/wire/batch-encoding.ts'
import { ERR_ITEM_TOO_LARGE, ERR_NOT_SERIALIZABLE } from '../../../src/errors.ts'
import type { GridError } from '../../../src/errors.ts'

const SHAPE: BatchShape = { prefix: '{"type":"results","results":', suffix: '}', what: 'result', maxBytes: 16 * 1024 * 1024 }
const decoder = new TextDecoder()
const decode = (messages: Uint8Array[]): unknown[] => messages.map(m => JSON.parse(decoder.decode(m)) as unknown)

interface Entry { n: number, value?: unknown, error?: string }

describe('encodeBatch', () => {
  it('a batch JSON takes whole is one message, as JSON.stringify of the message would be', () => {
    const entries: Entry[] = [{ n: 0, value: 'a' }, { n: 1, value: { deep: [1, 2] } }, { n: 2, value: undefined }]
    const messages = encodeBatch(entries, SHAPE, () => { throw new Error('no misfit here') })
    expect(messages.map(m => decoder.decode(m))).toEqual([JSON.stringify({ type: 'results', results: entries })])
  })

  it('an entry JSON cannot encode (a BigInt, a cycle) goes to misfit; its replacement takes its place and the others go as they are', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const entries: Entry[] = [{ n: 0, value: 1 }, { n: 1, value: 1n }, { n: 2, value: 'ok' }, { n: 3, value: cycle }]
    const misfits: Array<[number, GridError]> = []
    const messages = encodeBatch(entries, SHAPE, (entry, err) => {
      misfits.push([entry.n, err])
      return entry.n === 1 ? { n: 1, error: err.message } : undefined
    })
    expect(decode(messages)).toEqual([{ type: 'results', results: [{ n: 0, value: 1 }, { n: 1, error: 'result is not JSON-serializable: Do not know how to serialize a BigInt' }, { n: 2, value: 'ok' }] }])
    expect(misfits.map(([n, err]) => [n, err.code])).toEqual([[1, ERR_NOT_SERIALIZABLE], [3, ERR_NOT_SERIALIZABLE]])
    expect(misfits[1]![1].message).toMatch(/^result is not JSON-serializable: .*circular/)
  })

  it('a batch whose every entry is left out is no message at all', () => {
    expect(encodeBatch([{ n: 0, value: 1n }], SHAPE, () => undefined)).toEqual([])
  })

  it('a batch over the limit is split into messages each within it, every entry once and in order', () => {
    const shape = { ...SHAPE, maxBytes: 1000 }
    // 60 entries of ~110 bytes (some multi-byte: é is 2 bytes in UTF-8, 1 unit in JS): ~7 a message
    const entries: Entry[] = Array.from({ length: 60 }, (_, n) => ({ n, value: (n % 3 === 0 ? 'é' : 'e').repeat(90) }))
    const messages = encodeBatch(entries, shape, () => { throw new Error('no misfit here') })
    expect(messages.length).toBeGreaterThan(6)
    for (const m of messages) expect(m.byteLength).toBeLessThanOrEqual(1000)
    // packed full: no two neighbours would have fitted together
    for (let i = 1; i < messages.length; i++) expect(messages[i - 1]!.byteLength + messages[i]!.byteLength).toBeGreaterThan(1000 - 40)
    const decoded = decode(messages) as Array<{ type: string, results: Entry[] }>
    expect(decoded.every(d => d.type === 'results')).toBe(true)
    expect(decoded.flatMap(d => d.results)).toEqual(entries)
  })

  it('an entry over the limit alone goes to misfit with ERR_ITEM_TOO_LARGE; the rest still go', () => {
    const shape = { ...SHAPE, maxBytes: 1000 }
    const entries: Entry[] = [{ n: 0, value: 'a' }, { n: 1, value: 'x'.repeat(2000) }, { n: 2, value: 'b' }]
    const misfits: GridError[] = []
    const messages = encodeBatch(entries, shape, (entry, err) => { misfits.push(err); return { n: entry.n, error: err.code } })
    expect(decode(messages)).toEqual([{ type: 'results', results: [{ n: 0, value: 'a' }, { n: 1, error: ERR_ITEM_TOO_LARGE }, { n: 2, value: 'b' }] }])
    expect(misfits[0]!.message).toMatch(/^result is 2018 bytes as JSON, over the \d+ bytes one worker-stream message may carry$/)
  })

  it('an entry exactly at the limit fits, one byte over does not', () => {
    const overhead = Buffer.byteLength(SHAPE.prefix + '[]' + SHAPE.suffix)
    const entry = (size: number): Entry => ({ n: 0, value: 'v'.repeat(size - '{"n":0,"value":""}'.length) })
    const shape = { ...SHAPE, maxBytes: overhead + 500 }
    expect(encodeBatch([entry(500)], shape, () => undefined)[0]!.byteLength).toBe(overhead + 500)
    expect(encodeBatch([entry(501)], shape, () => undefined)).toEqual([])
  })
})
