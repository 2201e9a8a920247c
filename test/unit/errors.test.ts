import { describe, it, expect } from 'vitest'
import * as errors from '../../src/errors.ts'
import * as gridd from '../../src/index.ts'

const { GridError } = errors

/** One instance of every failure class (constructed as gridd constructs them). */
const samples: Record<string, errors.GridError> = {
  ConfigError: new errors.ConfigError('port', 'must be an integer'),
  CertsNotFoundError: new errors.CertsNotFoundError('--certs'),
  ChannelLimitError: new errors.ChannelLimitError('keys', 2, 'cfg'),
  ForbiddenError: new errors.ForbiddenError('peer x may not use /gridd/spawn/1.0.0'),
  TaskError: new errors.TaskError('o/t-1', { name: 'TypeError', message: 'boom', stack: 'TypeError: boom\n    at task.mjs:3:9' }),
  TaskTimeoutError: new errors.TaskTimeoutError('o/t-1', 100),
  TaskCancelledError: new errors.TaskCancelledError('o/t-1'),
  TaskLostError: new errors.TaskLostError('o/t-1', 4),
  SessionClosedError: new errors.SessionClosedError('batch'),
  TaskNotFoundError: new errors.TaskNotFoundError('o/t-1'),
  TaskNotRegisteredError: new errors.TaskNotRegisteredError('resize', ['thumbnail']),
  TaskLimitError: new errors.TaskLimitError('the shipped-module store is full'),
  ScheduleLimitError: new errors.ScheduleLimitError('the grid already holds 4096 schedules: delete some first'),
  NotSyncedError: new errors.NotSyncedError('schedules', 'create schedule "nightly"'),
  UnauthorizedError: new errors.UnauthorizedError('an Authorization: Bearer <JWT> header is required'),
  NotFoundError: new errors.NotFoundError('no task o/t-1 on this node'),
  HookSignatureError: new errors.HookSignatureError('the signature does not match'),
  RateLimitedError: new errors.RateLimitedError(1500),
  TooManyStreamsError: new errors.TooManyStreamsError(256),
  ResultTooLargeError: new errors.ResultTooLargeError('o/t-1', 'its result is 20 bytes as JSON, over tasks.maxResultBytes (10)'),
  JournalError: new errors.JournalError('/data/tasks.sqlite', 'in use by another process'),
  CertificateError: new errors.CertificateError('expired'),
  KeyPermissionsError: new errors.KeyPermissionsError('/tmp/node.key', 0o100644),
  FileExistsError: new errors.FileExistsError('/tmp/x'),
  UnsafeDevCertsError: new errors.UnsafeDevCertsError('/tmp/gridd-dev-0', 'is a symbolic link', '/tmp/gridd-dev-0'),
  FileLockedError: new errors.FileLockedError('/tmp/ca/tokens.lock', 5000, 'pid 42 on host', 'retry later'),
  FileLockLostError: new errors.FileLockLostError('/tmp/ca/tokens.lock', 'pid 43 on host'),
  CertsDirError: new errors.CertsDirError('/data/certs', { cause: Object.assign(new Error("EROFS: read-only file system, mkdir '/data/certs'"), { code: 'EROFS' }) }),
  DataDirError: new errors.DataDirError('/data/gridd', { cause: Object.assign(new Error("ENOSPC: no space left on device, mkdir '/data/gridd'"), { code: 'ENOSPC' }) }),
  InvalidAddressError: new errors.InvalidAddressError('x', 'no port'),
  TlsRefusedError: new errors.TlsRefusedError('wrong-ca', 'not our CA'),
  ProtocolError: new errors.ProtocolError('too large'),
  PeerUnreachableError: new errors.PeerUnreachableError('127.0.0.1:1'),
  ProtocolNotServedError: new errors.ProtocolNotServedError('12D3KooW…', '/example/hello/1.0.0'),
  NodeStoppedError: new errors.NodeStoppedError(),
  RemoteError: new errors.RemoteError({ name: 'Error', message: 'remote' }),
  StageDefinitionError: new errors.StageDefinitionError('no process'),
  StageBundleError: new errors.StageBundleError('resize', 'helper.ts:3:8', 'Could not resolve "./gone.ts"'),
  WorkerExitedError: new errors.WorkerExitedError('w-1', 'code 1'),
  WorkerStoppedError: new errors.WorkerStoppedError('w-1', 'by its agent (code 0 signal null)'),
  StageSetupError: new errors.StageSetupError('w-1', 'Error: no config file'),
  NotSerializableError: new errors.NotSerializableError('result', new TypeError('Do not know how to serialize a BigInt')),
  ItemTooLargeError: new errors.ItemTooLargeError('item', 17_000_000, 16_777_000),
  WorkerNotFoundError: new errors.WorkerNotFoundError('w-1'),
  MemoryLimitError: new errors.MemoryLimitError('w-1', 300, 150),
  AgentLostError: new errors.AgentLostError('A', 'failed'),
  SpawnRefusedError: new errors.SpawnRefusedError('cannot fork'),
  AgentFullError: new errors.AgentFullError(['workers: 2/2 in use']),
  ModuleMissingError: new errors.ModuleMissingError('0'.repeat(64)),
  ModuleNotAllowedError: new errors.ModuleNotAllowedError('/srv/app/escape.mjs', 'it leads to /etc/x.mjs, outside the allowed module dirs'),
  ModuleIntegrityError: new errors.ModuleIntegrityError('/data/modules/x.mjs', '0'.repeat(64)),
  NoCapacityError: new errors.NoCapacityError([]),
  PoisonItemError: new errors.PoisonItemError(new errors.WorkerExitedError('w-1', 'signal SIGKILL')),
  PipelineCancelledError: new errors.PipelineCancelledError('p'),
  DeadLetterError: new errors.DeadLetterError('p', 'e7', 'it threw', { cause: new Error('store down') }),
  ItemTimeoutError: new errors.ItemTimeoutError('s', 500),
  ConnectorClosedError: new errors.ConnectorClosedError('redisStreamSink'),
  AddonExistsError: new errors.AddonExistsError('a'),
  AddonDependencyError: new errors.AddonDependencyError('a', ['b']),
  AddonStartError: new errors.AddonStartError('a', new Error('boom')),
  ValueTooLargeError: new errors.ValueTooLargeError('k', 10, 5),
  JoinError: new errors.JoinError('the token is spent'),
  CrlError: new errors.CrlError('not signed by the grid CA'),
  DefinitionError: new errors.DefinitionError('/srv/p.mjs', 'stages: must be a non-empty array'),
  DeploymentCodeError: new errors.DeploymentCodeError('0'.repeat(64), 'chunk 2 of 3 not replicated yet')
}

const failureClasses = Object.entries(errors).filter(([, value]) => typeof value === 'function' && value.prototype instanceof GridError)
const codeConstants = Object.entries(errors).filter(([name]) => name.startsWith('ERR_'))

describe('errors: every failure a GridError class with an exported code constant', () => {
  it('every failure class is sampled here (a new class must be added to this table)', () => {
    expect(failureClasses.map(([name]) => name).sort()).toEqual(Object.keys(samples).sort())
  })

  it.each(Object.entries(samples))('%s: named after its class, a GridError, its code an exported constant of that value', (name, err) => {
    expect(err).toBeInstanceOf(GridError)
    expect(err).toBeInstanceOf(Error)
    // a RemoteError carries the remote error's name (tested below)
    expect(err.name).toBe(name === 'RemoteError' ? 'Error' : name)
    expect(err.code).toMatch(/^ERR_[A-Z_]+$/)
    expect((errors as Record<string, unknown>)[err.code]).toBe(err.code)
  })

  it('each code belongs to one class, and every exported code is used', () => {
    const codes = Object.values(samples).map(e => e.code)
    expect(new Set(codes).size).toBe(codes.length)
    expect(codeConstants.map(([name]) => name).sort()).toEqual([...codes].sort())
    for (const [name, value] of codeConstants) expect(value).toBe(name)
  })

  it('the classes and code constants are part of the public surface (src/index.ts)', () => {
    for (const [name, value] of [...failureClasses, ...codeConstants]) expect((gridd as Record<string, unknown>)[name]).toBe(value)
    expect(gridd.GridError).toBe(GridError)
  })

  it('keeps the cause and says whether retrying may help', () => {
    const crash = new errors.WorkerExitedError('w-1', 'signal SIGKILL')
    const poison = new errors.PoisonItemError(crash)
    expect(poison.cause).toBe(crash)
    expect(poison.message).toContain('signal SIGKILL')
    expect(poison.retryable).toBe(false)
    expect(new errors.AgentFullError(['cpu: needs 2, has 1 free'])).toMatchObject({ retryable: true, lacks: ['cpu: needs 2, has 1 free'] })
  })
})

describe('RemoteError: a failure from another process, as a GridError', () => {
  it('keeps the remote name, message, stack, code and retryable', () => {
    const err = new errors.RemoteError({ name: 'NoCapacityError', message: 'no agent', stack: 'NoCapacityError: no agent\n    at remote.ts:1', code: 'ERR_NO_CAPACITY', retryable: true })
    expect(err).toBeInstanceOf(GridError)
    expect(err).toMatchObject({ name: 'NoCapacityError', message: 'no agent', code: 'ERR_NO_CAPACITY', retryable: true, stack: 'NoCapacityError: no agent\n    at remote.ts:1', remoteStack: 'NoCapacityError: no agent\n    at remote.ts:1' })
  })

  it('has code ERR_REMOTE when the remote error had none', () => {
    expect(new errors.RemoteError({ name: 'TypeError', message: 'x is not a function' })).toMatchObject({ code: errors.ERR_REMOTE, retryable: false, name: 'TypeError' })
  })
})

describe('TaskLostError: how many attempts were lost', () => {
  it('one attempt reads as its only attempt (it said "each of 1 attempts"), more as each of them', () => {
    const cause = new Error('worker w-1 exited: code 3 signal null')
    expect(new errors.TaskLostError('o/t-1', 1, { cause }).message).toBe('task o/t-1: its worker or agent was lost on its only attempt: worker w-1 exited: code 3 signal null')
    expect(new errors.TaskLostError('o/t-1', 4).message).toBe('task o/t-1: its worker or agent was lost on each of 4 attempts')
  })
})
