import { describe, it, expect, vi, afterEach } from 'vitest'
import { LineBudget, LineSplitter, cleanLine } from '../../../src/agent/output-lines.ts'

function split (maxBytes: number, chunks: string[], end = true): Array<[string, boolean]> {
  const lines: Array<[string, boolean]> = []
  const splitter = new LineSplitter(maxBytes, (line, cut) => { lines.push([line.toString(), cut]) })
  for (const chunk of chunks) splitter.push(Buffer.from(chunk))
  if (end) splitter.end()
  return lines
}

describe('LineSplitter: bounded lines from a byte stream', () => {
  it.each<[string, string[], Array<[string, boolean]>]>([
    ['one chunk, several lines', ['a\nbb\nccc\n'], [['a', false], ['bb', false], ['ccc', false]]],
    ['a line across chunks', ['ab', 'c', 'd\ne'], [['abcd', false], ['e', false]]],
    ['empty lines are lines', ['\n\nx\n'], [['', false], ['', false], ['x', false]]],
    ['exactly the bound is not cut', ['12345\n'], [['12345', false]]],
    ['over the bound: cut, the rest of that line skipped', ['1234567890\nok\n'], [['12345', true], ['ok', false]]],
    ['over the bound across chunks', ['123', '456', '789', '0\nok'], [['12345', true], ['ok', false]]]
  ])('%s', (_label, chunks, expected) => {
    expect(split(5, chunks)).toEqual(expected)
  })

  it('hands on a cut line at once, before its newline ever comes', () => {
    expect(split(4, ['abcdefgh'], false)).toEqual([['abcd', true]])
  })

  it('holds at most the bound however long a line without a newline grows', () => {
    const lines: Buffer[] = []
    const splitter = new LineSplitter(1024, line => { lines.push(line) })
    for (let i = 0; i < 1000; i++) splitter.push(Buffer.alloc(64 * 1024, 0x61))
    splitter.end()
    expect(lines.map(l => l.length)).toEqual([1024])
  })
})

describe('cleanLine: text that cannot steer a terminal or pose as several lines', () => {
  it.each([
    ['\x1b[31mred\x1b[0m', 'red'],
    ['a\rb', 'ab'],
    ['tab\tkept', 'tab\tkept'],
    ['nul\x00 bel\x07 del\x7f c1\x9b', 'nul bel del c1'],
    ['\x1b]0;title\x07text', 'text'],
    ['bidi \u202eevil\u202c and\u2028separator', 'bidi evil andseparator'],
    ['{"level":50,"msg":"forged"}', '{"level":50,"msg":"forged"}'],
    ['ünïcødé ✓', 'ünïcødé ✓']
  ])('%j → %j', (input, expected) => {
    expect(cleanLine(Buffer.from(input))).toBe(expected)
  })
})

describe('LineBudget: lines per one-second window', () => {
  afterEach(() => { vi.useRealTimers() })

  it('lets `perSecond` lines through per window, counts the rest and reports the count once the window is over', () => {
    vi.useFakeTimers()
    const reports: number[] = []
    const budget = new LineBudget(3, n => { reports.push(n) })
    const passed = Array.from({ length: 10 }, () => budget.take())
    expect(passed.filter(Boolean)).toHaveLength(3)
    expect(reports).toEqual([])
    vi.advanceTimersByTime(1000)
    expect(reports).toEqual([7])
    expect(budget.take()).toBe(true)
    budget.flush()
    expect(reports).toEqual([7])
  })

  it('flush reports what is counted so far (a worker that exited)', () => {
    vi.useFakeTimers()
    const reports: number[] = []
    const budget = new LineBudget(1, n => { reports.push(n) })
    budget.take()
    budget.take()
    budget.take()
    budget.flush()
    expect(reports).toEqual([2])
    vi.advanceTimersByTime(5000)
    expect(reports).toEqual([2])
  })
})
