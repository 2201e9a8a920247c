import { describe, it, expect } from 'vitest'
import type { Command } from 'commander'
import { buildProgram } from '../../../src/cli/index.ts'

function sub (cmd: Command, name: string): Command {
  const found = cmd.commands.find(c => c.name() === name)
  expect(found, `command ${name}`).toBeDefined()
  return found!
}

const longFlags = (cmd: Command): string[] => cmd.options.map(o => o.long ?? '')

describe('buildProgram', () => {
  it('is the grid program with node, certs, status, weight, strategy, channel, task, session, schedule and pipeline', () => {
    const program = buildProgram()
    expect(program.name()).toBe('grid')
    expect(program.commands.map(c => c.name()).sort()).toEqual(['certs', 'channel', 'node', 'pipeline', 'schedule', 'session', 'status', 'strategy', 'task', 'weight'])
  })

  it('task has run, submit, get, wait and cancel; session has list, show, open, close and cancel; each takes --peer and the TLS flags', () => {
    const task = sub(buildProgram(), 'task')
    const session = sub(buildProgram(), 'session')
    expect(task.commands.map(c => c.name()).sort()).toEqual(['cancel', 'get', 'run', 'submit', 'wait'])
    expect(session.commands.map(c => c.name()).sort()).toEqual(['cancel', 'close', 'list', 'open', 'show'])
    for (const cmd of [...task.commands, ...session.commands]) {
      expect(longFlags(cmd)).toEqual(expect.arrayContaining(['--peer', '--deadline', '--certs', '--name', '--dev', '--log-level']))
    }
    expect(longFlags(sub(task, 'run'))).toEqual(expect.arrayContaining(['--input', '--input-file', '--timeout', '--retries', '--priority', '--session']))
  })

  it('certs has init, issue, revoke and token (create, list, revoke)', () => {
    const certs = sub(buildProgram(), 'certs')
    expect(certs.commands.map(c => c.name()).sort()).toEqual(['init', 'issue', 'revoke', 'token'])
    const token = sub(certs, 'token')
    expect(token.commands.map(c => c.name()).sort()).toEqual(['create', 'list', 'revoke'])
    expect(longFlags(sub(token, 'create'))).toEqual(expect.arrayContaining(['--dir', '--role', '--ttl', '--uses']))
    expect(longFlags(sub(certs, 'revoke'))).toEqual(expect.arrayContaining(['--dir', '--peer', '--certs', '--name', '--timeout']))
    expect(sub(certs, 'revoke').registeredArguments.map(a => a.name())).toEqual(['name|serial'])
    for (const name of ['init', 'issue']) {
      expect(longFlags(sub(certs, name))).toEqual(expect.arrayContaining(['--dir', '--days', '--force']))
    }
    expect(sub(certs, 'issue').registeredArguments.map(a => a.name())).toEqual(['name'])
  })

  it.each(['node', 'status'])('%s takes the TLS flags', (name) => {
    const cmd = sub(buildProgram(), name)
    expect(longFlags(cmd)).toEqual(expect.arrayContaining(['--certs', '--name', '--ca', '--cert', '--key', '--dev', '--log-level']))
  })

  it('node takes --host, --port and --peer', () => {
    expect(longFlags(sub(buildProgram(), 'node'))).toEqual(expect.arrayContaining(['--host', '--port', '--peer']))
  })

  it('grid weight with a weight that is no number names the text given, before any dial', async () => {
    const err = await buildProgram().parseAsync(['weight', 'heavy', '--node', '127.0.0.1:1'], { from: 'user' }).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/^weight: must be a number .*got "heavy"$/) })
  })

  it('a bad option value throws instead of exiting', () => {
    const program = buildProgram()
    const node = sub(program, 'node')
    node.configureOutput({ writeErr: () => {}, writeOut: () => {} })
    expect(() => node.parseOptions(['--port', 'abc'])).toThrow(/expected an integer 0-65535/)
  })

  it.each([
    [['--cpu', '1.5'], { cpu: 1.5 }],
    [['--weight', '-1e6', '--workers', '8', '--memory', '2048.5'], { weight: -1e6, workers: 8, memory: 2048.5 }],
    [['--weight', '0'], { weight: 0 }],
    [['--strategy', 'vertical'], { strategy: 'vertical' }]
  ])('node takes %j', (args, expected) => {
    const node = sub(buildProgram(), 'node')
    node.parseOptions(args)
    expect(node.opts()).toMatchObject(expected)
  })

  it.each([
    ['--weight', '2e6', /option '--weight <w>' argument '2e6' is invalid. must be a number from -1000000 to 1000000/],
    ['--cpu', '0', /'--cpu <slots>'.*above 0/],
    ['--cpu', '1,5', /'--cpu <slots>'.*CPU slots/],
    ['--workers', '2.5', /'--workers <n>'.*an integer from 1 to 4096/],
    ['--memory', '0', /'--memory <mb>'.*from 1 to/],
    ['--strategy', 'diagonal', /'--strategy <s>'.*horizontal, vertical/]
  ])('node refuses %s %s, naming the flag and the rule', (flag, value, message) => {
    const node = sub(buildProgram(), 'node')
    node.configureOutput({ writeErr: () => {}, writeOut: () => {} })
    expect(() => node.parseOptions([flag, value])).toThrow(message)
  })
})
