import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import * as v from 'valibot'
import { refusalFrame, refusalOf } from '../../../src/trust/refusal.ts'
import { JsonStream, parseJson } from '../../../src/transport/json-stream.ts'
import { ERR_FORBIDDEN, ForbiddenError, ProtocolError } from '../../../src/errors.ts'
import { spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'

describe('the refusal frame', () => {
  const err = new ForbiddenError('peer p ("client", roles client) may not use /gridd/spawn/1.0.0: it needs the member or admin role')

  it('is the { ok: false, code, error } answer of a request/response protocol', () => {
    const frame = refusalFrame(err)
    expect(frame).toMatchObject({ ok: false, code: ERR_FORBIDDEN, error: { name: 'ForbiddenError', message: err.message, code: ERR_FORBIDDEN } })
    // a spawn client would read it as a failed spawn even without refusalOf
    expect(v.safeParse(spawnResponseSchema, frame).success).toBe(true)
  })

  it('refusalOf turns only a well-formed refusal back into a ForbiddenError', () => {
    const back = refusalOf(JSON.parse(JSON.stringify(refusalFrame(err))))
    expect(back).toBeInstanceOf(ForbiddenError)
    expect(back).toMatchObject({ code: ERR_FORBIDDEN, message: err.message })
    for (const other of [null, 7, 'ERR_FORBIDDEN', [], { ok: true }, { ok: false, code: 'ERR_AGENT_FULL', error: { name: 'E', message: 'm' } },
      // the right code without the rest of the shape is not a refusal (and must not throw)
      { code: ERR_FORBIDDEN }, { ok: true, code: ERR_FORBIDDEN, error: { name: 'E', message: 'm' } }, { ok: false, code: ERR_FORBIDDEN, error: 'text' }]) {
      expect(refusalOf(other)).toBeUndefined()
    }
  })

  it('round trip: JsonStream.read of any schema throws ForbiddenError when the other side was refused', async () => {
    const [outbound, inbound] = await streamPair()
    const server = new JsonStream(inbound)
    const client = new JsonStream(outbound)
    await server.write(refusalFrame(err))
    // the worker stream's schema knows nothing of { ok, code }: the caller still learns ERR_FORBIDDEN
    const read = client.read(workerDownSchema)
    await expect(read).rejects.toBeInstanceOf(ForbiddenError)
    await expect(read).rejects.toMatchObject({ code: ERR_FORBIDDEN, message: err.message })
    await server.close()
    await client.close()
  })

  it('parseJson: a refusal beats a schema mismatch; a message that is not one still fails on its schema', () => {
    expect(() => parseJson(JSON.stringify(refusalFrame(err)), v.object({ v: v.literal(1) }))).toThrow(ForbiddenError)
    expect(() => parseJson(JSON.stringify({ ok: false, code: ERR_FORBIDDEN }), v.object({ v: v.literal(1) }))).toThrow(ProtocolError)
  })
})
