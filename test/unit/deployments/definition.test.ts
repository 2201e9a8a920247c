import { describe, it, expect } from 'vitest'
import { checkDefinition } from '../../../src/deployments/definition.ts'
import { CodeStore } from '../../../src/deployments/code-store.ts'
import { CHUNK_CHARS, KEY } from '../../../src/deployments/types.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { memoryChannel } from '../schedules/memory-channel.ts'

const good = { source: () => [], stages: [{ name: 'a', module: './a.mjs' }], sink: () => () => {} }

describe('checkDefinition: the default export of a deployment file', () => {
  it('accepts the documented shape, with URL modules and options', () => {
    const definition = { ...good, stages: [{ name: 'a', module: new URL('file:///srv/a.mjs'), minWorkers: 2 }], options: { maxAttempts: 5, equalize: false } }
    expect(checkDefinition({ default: definition }, 'p.mjs')).toBe(definition)
  })

  it.each([
    [{}, /has no default export/],
    [{ default: { ...good, source: 'redis://x' } }, /source: must be a function/],
    [{ default: { ...good, stages: [] } }, /stages: needs at least one stage/],
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs' }, { name: 'a', module: './b.mjs' }] } }, /stage names must differ/],
    [{ default: { ...good, stages: [{ name: 'a b', module: './a.mjs' }] } }, /stages\.0\.name: a stage name is/],
    [{ default: { ...good, options: { source: 1 } } }, /options/],
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', maxWorker: 2 }] } }, /stages\.0\.maxWorker: unknown option \(known: name, module, minWorkers, maxWorkers,/],
    [{ default: { sorce: good.source, stages: good.stages, sink: good.sink } }, /: source: missing \(needed: source, stages, sink\)$/],
    [{ default: { ...good, stages: [{ name: 'a' }] } }, /stages\.0\.module: missing \(needed: name, module\)$/],
    [{ default: { ...good, options: { maxAttempt: 2 } } }, /options\.maxAttempt: unknown option \(known: maxAttempts,/],
    [{ default: { ...good, option: { maxAttempts: 3 } } }, /: option: unknown option \(known: source, stages, sink, deadLetter, options\)$/],
    // a known key of the wrong type is said so, not "unknown option"
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', resources: 5 }] } }, /stages\.0\.resources: Invalid type: Expected Object but received 5$/],
    [{ default: { ...good, options: 5 } }, /: options: Invalid type: Expected Object but received 5$/],
    [{ default: 5 }, /: default export: Invalid type: Expected Object but received 5$/],
    // a typo in resources asked for nothing: the stage was placed as if it needed one slot
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', resources: { cpus: 4 } }] } }, /stages\.0\.resources\.cpus: unknown option \(known: cpu, memoryMb\)$/],
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', itemTimeoutMs: Number.POSITIVE_INFINITY }] } }, /stages\.0\.itemTimeoutMs/],
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', itemTimeoutMs: 1e12 }] } }, /stages\.0\.itemTimeoutMs/],
    // what the run refuses is refused at deploy: deployed, it failed every launch for ever
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', maxWorkers: 0 }] } }, /stages\.0\.maxWorkers: must be an integer from 1 to/],
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', minWorkers: 3, maxWorkers: 2 }] } }, /stages\.0\.maxWorkers: must be >= minWorkers \(3\)$/],
    [{ default: { ...good, stages: [{ name: 'a', module: './a.mjs', latencyObjectiveMs: 0 }] } }, /stages\.0\.latencyObjectiveMs: must be a positive number/],
    [{ default: { ...good, options: { windowMs: 0 } } }, /options\.windowMs: must be a positive number/],
    [{ default: { ...good, options: { drainMs: 0 } } }, /options\.drainMs: must be a positive number/],
    [{ default: { ...good, options: { placementTimeoutMs: 0 } } }, /options\.placementTimeoutMs: must be a positive number/],
    [{ default: { ...good, options: { window: 32, maxWindow: 16 } } }, /options\.maxWindow: must be >= window \(32\)$/]
  ])('refuses %j, naming the problem (ERR_DEFINITION)', (exports, message) => {
    let thrown: unknown
    try { checkDefinition(exports, '/srv/p.mjs') } catch (err) { thrown = err }
    expect(thrown).toMatchObject({ code: 'ERR_DEFINITION', file: '/srv/p.mjs' })
    expect((thrown as Error).message).toMatch(message)
  })
})

describe('CodeStore: code by sha256 in a channel, chunked under the value limit', () => {
  it('stores a module over several chunks, reads it back, and drops it', () => {
    const channel = memoryChannel('deployments')
    const store = new CodeStore(channel, '/nonexistent')
    const source = `export default ${JSON.stringify('é'.repeat(CHUNK_CHARS * 2 + 7))}`
    const hash = store.put(source)
    expect(hash).toBe(sha256(source))
    expect(channel.get(KEY.code(hash))).toEqual({ chunks: 3, chars: source.length })
    expect(store.get(hash)).toBe(source)
    store.remove(hash)
    expect(() => store.get(hash)).toThrow(expect.objectContaining({ code: 'ERR_DEPLOYMENT_CODE', retryable: true }))
  })

  it('refuses chunks that do not match the hash, or a chunk not there yet', () => {
    const channel = memoryChannel('deployments')
    const store = new CodeStore(channel, '/nonexistent')
    const hash = store.put('export default 1')
    channel.set(KEY.chunk(hash, 0), 'export default 2')
    expect(() => store.get(hash)).toThrow(/do not match the hash/)
    channel.delete(KEY.chunk(hash, 0))
    expect(() => store.get(hash)).toThrow(/chunk 1 of 1 is missing/)
  })
})
