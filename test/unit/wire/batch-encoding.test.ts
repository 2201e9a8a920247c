import { describe, it, expect } from 'vitest'
import { encodeBatch } from '../../../src/wire/batch-encoding.ts'
import type { BatchShape } from '../../../src/wire/batch-encoding.ts'
import { ERR_NOT_SERIALIZABLE } from '../../../src/errors.ts'
import type { GridError } from '../../../src/errors.ts'

const SHAPE: BatchShape = { prefix: '{"type":"results","results":', suffix: '}', what: 'result' }
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
})
