import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { toWireError, wireErrorSchema, workerExitedError, RemoteError } from '../../../src/wire/wire-error.ts'
import { spawnFailure, spawnFailureError, spawnResponseSchema } from '../../../src/wire/spawn-protocol.ts'
import { parseJson } from '../../../src/transport/json-stream.ts'
import {
  AgentFullError, ConfigError, GridError, ModuleMissingError, NoCapacityError, SpawnRefusedError,
  ERR_AGENT_FULL, ERR_CONFIG, ERR_MODULE_MISSING, ERR_NO_CAPACITY, ERR_REMOTE, ERR_SPAWN_REFUSED
} from '../../../src/errors.ts'

/** What the other side gets: the wire form as JSON text, parsed and checked as untrusted input, rethrown. */
function acrossTheWire (err: unknown): RemoteError {
  return new RemoteError(parseJson(JSON.stringify(toWireError(err)), wireErrorSchema))
}

describe('wire errors: a GridError thrown on one side is a GridError with the same code on the other', () => {
  it('keeps code, name, message, stack and retryable', () => {
    const thrown = new NoCapacityError([{ agentId: 'A', lacks: ['workers: 4/4 in use'] }])
    const received = acrossTheWire(thrown)
    expect(received).toBeInstanceOf(GridError)
    expect(received).toMatchObject({ code: ERR_NO_CAPACITY, name: 'NoCapacityError', message: thrown.message, stack: thrown.stack, retryable: true })
  })

  it('survives several hops (worker -> agent -> owner) unchanged', () => {
    const thrown = new ConfigError('threshold', 'must be positive')
    const twice = acrossTheWire(acrossTheWire(thrown))
    expect(twice).toMatchObject({ code: ERR_CONFIG, name: 'ConfigError', message: thrown.message, stack: thrown.stack, retryable: false })
  })

  it('a plain Error arrives with ERR_REMOTE; a string code of any error (Node\'s ENOENT) is kept', () => {
    expect(acrossTheWire(new RangeError('item 100'))).toMatchObject({ code: ERR_REMOTE, name: 'RangeError', message: 'item 100' })
    expect(acrossTheWire(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toMatchObject({ code: 'ENOENT' })
    expect(acrossTheWire(Object.assign(new Error('numeric code'), { code: 42 }))).toMatchObject({ code: ERR_REMOTE })
  })

  it('anything thrown that is not an Error still crosses as one', () => {
    expect(acrossTheWire('a string')).toMatchObject({ name: 'Error', message: 'a string', code: ERR_REMOTE })
    const hostile = { toString () { throw new Error('no') } }
    expect(acrossTheWire(hostile)).toMatchObject({ name: 'Error', message: '{ toString: [Function: toString] }' })
  })

  it('an oversized error is cut to the schema\'s limits instead of making the receiver drop the stream', () => {
    const huge = new Error('m'.repeat(200_000))
    huge.name = 'N'.repeat(1000)
    huge.stack = 's'.repeat(1_000_000)
    const wire = toWireError(huge)
    expect(v.safeParse(wireErrorSchema, wire).success).toBe(true)
    expect(wire.message.length).toBe(64 * 1024)
    expect(wire.message.endsWith('…')).toBe(true)
  })

  it('a thrown object with a million keys, or one nested in it, is shown by its first keys, not rendered whole (1-3 s and 17-24 MB, in a worker whose heap may be 32 MB)', () => {
    const many: Record<string, number> = {}
    for (let i = 0; i < 1_000_000; i++) many[`k${i}`] = i
    const wire = toWireError(many)
    expect(wire.message.startsWith('{ k0: 0, k1: 1,')).toBe(true)
    expect(wire.message).toContain("k49: 49, '…': 'more than 50 keys' }")
    expect(wire.message.length).toBeLessThan(2000)
    // one level down, as `throw { response: body }` does
    const nested = toWireError({ status: 500, response: many })
    expect(nested.message).toContain("status: 500, response: { k0: 0,")
    expect(nested.message.length).toBeLessThan(2000)
    // a getter runs no code while the value is shown
    let read = false
    expect(toWireError({ get secret () { read = true; return 'x' } }).message).toBe("{ secret: '[Getter]' }")
    expect(read).toBe(false)
    // a small one in full, as before
    expect(toWireError({ a: 1, nested: { b: [1, 2] } }).message).toBe('{ a: 1, nested: { b: [ 1, 2 ] } }')
  })
})

describe('spawn failures: the agent answers with a code, the requester decides on it', () => {
  const answer = (err: unknown): GridError => spawnFailureError(parseJson(JSON.stringify(spawnFailure(err)), spawnResponseSchema) as ReturnType<typeof spawnFailure>)

  it('a full agent: ERR_AGENT_FULL with what it lacks, rebuilt as AgentFullError', () => {
    const failure = spawnFailure(new AgentFullError(['workers: 2/2 in use', 'cpu: needs 1, has 0 free']))
    expect(failure).toMatchObject({ ok: false, code: ERR_AGENT_FULL, lacks: ['workers: 2/2 in use', 'cpu: needs 1, has 0 free'] })
    const err = answer(new AgentFullError(['workers: 2/2 in use']))
    expect(err).toBeInstanceOf(AgentFullError)
    expect(err).toMatchObject({ code: ERR_AGENT_FULL, lacks: ['workers: 2/2 in use'] })
  })

  it('a missing module and a refusal keep their codes; any other failure is ERR_REMOTE', () => {
    expect(spawnFailure(new ModuleMissingError('0'.repeat(64)))).toMatchObject({ code: ERR_MODULE_MISSING, lacks: undefined })
    expect(answer(new SpawnRefusedError('could not start a worker process'))).toMatchObject({ code: ERR_SPAWN_REFUSED, name: 'SpawnRefusedError' })
    expect(answer(new Error('disk on fire'))).toMatchObject({ code: ERR_REMOTE, message: 'disk on fire' })
  })

  it('the failure answer stays within the schema\'s bounds (at most 8 lacks of 256 characters)', () => {
    const failure = spawnFailure(new AgentFullError(Array.from({ length: 20 }, () => 'x'.repeat(1000))))
    expect(v.safeParse(spawnResponseSchema, failure).success).toBe(true)
    expect(v.safeParse(spawnResponseSchema, { ...failure, lacks: Array.from({ length: 9 }, () => 'x') }).success).toBe(false)
  })
})

describe('a failed setup crosses the wire with the stage\'s own frames', () => {
  it('its stack is the setup error\'s line over the frames of the stage module, not the owner\'s', () => {
    const stack = 'Error: cannot open the model file\n    at setup (file:///srv/stages/model.mjs:3:11)\n    at main (worker-host.js:7:924)'
    const err = workerExitedError('w-1', { code: 1, signal: null, setupFailed: true, error: { name: 'Error', message: 'cannot open the model file', stack } })
    expect(err.name).toBe('StageSetupError')
    const remote = acrossTheWire(err)
    expect(remote.remoteStack).toBe("StageSetupError: worker w-1 failed in its stage's setup: Error: cannot open the model file\n    at setup (file:///srv/stages/model.mjs:3:11)\n    at main (worker-host.js:7:924)")
    expect(remote.remoteStack).not.toContain('workerExitedError')
  })

  it('a stack that does not start with its message is kept whole under the setup error\'s line', () => {
    const err = workerExitedError('w-2', { code: 1, signal: null, setupFailed: true, error: { name: 'Error', message: 'x', stack: 'odd stack\n    at m.mjs:1:1' } })
    expect(err.stack).toBe("StageSetupError: worker w-2 failed in its stage's setup: Error: x\nodd stack\n    at m.mjs:1:1")
  })
})
