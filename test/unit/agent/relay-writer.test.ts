import { it, expect, vi } from 'vitest'
import { RelayWriter } from '../../../src/agent/relay-writer.ts'
import type { JsonStream } from '../../../src/transport/json-stream.ts'
import { resolveLogger } from '../../../src/logger.ts'

it('a results write that fails aborts the worker stream (the requester then runs its items elsewhere), never swallowed', async () => {
  const aborted: Error[] = []
  const json = {
    stream: { abort: (err: Error) => { aborted.push(err) } },
    writeEncoded: async () => { throw new Error('stream reset') },
    write: async () => {},
    close: async () => {}
  }
  const out = new RelayWriter(json as unknown as JsonStream, resolveLogger())
  out.push({ n: 0, value: 1 })
  await vi.waitFor(() => { expect(aborted.map(e => e.message)).toEqual(['stream reset']) })
})
