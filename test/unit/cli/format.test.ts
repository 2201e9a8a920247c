import { describe, it, expect } from 'vitest'
import { formatTable, printable, printableJson } from '../../../src/cli/format.ts'
import { formatStatus } from '../../../src/cli/commands/status.ts'
import type { StatusReport } from '../../../src/control/status.ts'
import { entry } from '../membership/helpers.ts'

// what a hostile member could gossip: clear the screen, retitle the terminal, an 8-bit CSI, a carriage return, a bidi override
const HOSTILE = 'ok\u001b[2J\u001b]0;pwned\u0007\u009b31m\rfake\u202e'
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

describe('CLI output: gossiped strings cannot drive the terminal (issue 14)', () => {
  it('printable shows every control character as a visible escape', () => {
    expect(printable(HOSTILE)).toBe('ok\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\x0dfake\\u202e')
    expect(printable('plain text, ünïcode ✓')).toBe('plain text, ünïcode ✓')
    expect(printable('two\nlines\tand\u001b', { keepLines: true })).toBe('two\nlines\tand\\x1b')
  })

  it('printableJson escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
    const value = { key: HOSTILE, n: 1 }
    const text = printableJson(value)
    expect(text).not.toMatch(CONTROL)
    expect(JSON.parse(text)).toEqual(value)
  })

  it('formatTable escapes every cell, so columns stay aligned', () => {
    const out = formatTable(['KEY', 'VALUE'], [[HOSTILE, 'x'], ['k', HOSTILE]])
    expect(out.replaceAll('\n', '')).not.toMatch(CONTROL)
    expect(out).toContain('\\x1b[2J')
  })

  it('`grid status` prints a member with hostile addresses and stage names without a control character', () => {
    const hostile = { ...entry('12D3KooWHostile', { role: 'agent', addresses: [`/dns4/${HOSTILE}/tcp/1`], load: { stages: { [HOSTILE]: 1 } } }), lastSeenMs: 100 }
    const report: StatusReport = { self: { ...entry('12D3KooWSelf', { addresses: [HOSTILE] }), lastSeenMs: 0 }, members: [hostile] }
    const out = formatStatus(report)
    expect(out.replaceAll('\n', '')).not.toMatch(CONTROL)
    expect(out).toContain('\\x1b]0;pwned\\x07')
  })
})
