import { it, expect } from 'vitest'
import * as v from 'valibot'
import { checkMessage, parseJson } from '../../../src/transport/json-stream.ts'
import { ProtocolError } from '../../../src/errors.ts'

const schema = v.object({ state: v.picklist(['alive', 'failed']), id: v.pipe(v.string(), v.regex(/^[a-z]+$/)) })

/** The message of what `run` throws. */
function thrown (run: () => unknown): string {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError)
    return (err as Error).message
  }
  throw new Error('did not throw')
}

it('a schema refusal names the problem without carrying the peer\'s whole value: it is logged (detail and err), so a 100 KB field made a 200 KB log line', () => {
  const big = 'B'.repeat(100_000)
  for (const message of [
    thrown(() => checkMessage({ state: 'alive', id: big }, schema)),
    thrown(() => checkMessage({ state: big, id: 'x' }, schema)),
    thrown(() => parseJson(JSON.stringify({ state: 'alive', id: big }), schema))
  ]) {
    expect(message.length).toBeLessThan(400)
    expect(message).toMatch(/^message does not match its schema: (id|state) Invalid/)
  }
})
