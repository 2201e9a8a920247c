import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BEGIN, END, README, loadResults, renderMeasured, replaceMeasured } from '../../scripts/bench-readme.ts'
import { SCALE_BEGIN, SCALE_END, loadScaleRecords, renderScale } from '../../scripts/bench-readme-scale.ts'
import { TRACE_BEGIN, TRACE_END, TRACE_POISSON_RESULT, loadTraceResult, renderTrace } from '../../scripts/bench-readme-trace.ts'
import { benchArgs, buildResult, checkTarget } from '../bench/report.ts'

/** The README's text from `begin` to `end`, both included; fails when either marker is missing. */
function readmeBlock (begin: string, end: string): string {
  const readme = readFileSync(README, 'utf8')
  const from = readme.indexOf(begin)
  const to = readme.indexOf(end)
  expect(from).toBeGreaterThanOrEqual(0)
  expect(to).toBeGreaterThan(from)
  return readme.slice(from, to + end.length)
}

describe('the README Measured table', () => {
  it('is exactly what bench-results/*.json regenerate (run `npm run bench:readme`)', () => {
    expect(readmeBlock(BEGIN, END)).toBe(renderMeasured(loadResults()))
  })

  it('has a row for every row of every result, naming its command and commit', () => {
    const results = loadResults()
    expect(results.map(r => r.name)).toEqual(expect.arrayContaining(['membership', 'spawn', 'scaling', 'dispatch', 'equalizer']))
    const table = renderMeasured(results)
    for (const r of results) {
      expect(r.commit).toMatch(/^[0-9a-f]{40}$/)
      expect(table).toContain(`\`${r.command}\``)
      expect(table).toContain(`\`${r.commit.slice(0, 7)}\``)
      for (const row of r.rows) expect(table).toContain(row.what.replaceAll('|', '\\|'))
    }
  })
})

describe('the README trace frontier (bench:trace)', () => {
  it('is exactly what bench-results/trace.json and trace-poisson.json regenerate (run `npm run bench:readme`)', () => {
    expect(readmeBlock(TRACE_BEGIN, TRACE_END)).toBe(renderTrace(loadTraceResult(), loadTraceResult(TRACE_POISSON_RESULT)))
  })

  it('shows every policy on both traces with its ratio to static at the peak, and says which goal missed', () => {
    const figures: Record<string, { value: number, unit: string }> = {}
    for (const t of ['bursty', 'daily']) {
      for (const p of ['equalizer', 'equalizer+objective', 'equalizer+objective+spare', 'static-peak', 'static-mean', 'target-tracking']) {
        figures[`${t}.${p}.workerSeconds`] = { value: p === 'static-peak' ? 800 : 400, unit: 's' }
        figures[`${t}.${p}.p99Ms`] = { value: 30, unit: 'ms' }
      }
    }
    figures['daily.defaultsP99VsBaseline'] = { value: 1.2, unit: '×' }
    const table = renderTrace(buildResult('trace', benchArgs([]), { figures, targets: [{ figure: 'daily.defaultsP99VsBaseline', comparator: '<=', bound: 1 }] }))
    expect(table).toContain('| equalizer (defaults) | 400 (0.50×) | 30 ms (1.00×) | 400 (0.50×) | 30 ms (1.00×) |')
    expect(table).toContain('| static at the peak | 800 | 30 ms | 800 | 30 ms |')
    expect(table).toContain('| defaults: p99 ÷ target tracking | – | 1.2× **missed** | ≤ 1× |')
    expect(table).not.toContain('The same items were slow')
  })

  it('says how many of a policy\'s slowest items were also its yardstick\'s, for the traces that measured it', () => {
    const figures = { 'daily.defaultsSlowestSharedWithBaseline': { value: 83, unit: '%' }, 'bursty.objectiveSlowestSharedWithPeak': { value: 12, unit: '%' } }
    const table = renderTrace(buildResult('trace', benchArgs([]), { figures, targets: [] }))
    expect(table).toContain('defaults beside target tracking: daily 83 %; objective beside static at the peak: bursty 12 %.')
  })
})

describe('the README scale table (bench:scale before and after)', () => {
  it('is exactly what docs/scale-before.json and bench-results/scale.json regenerate (run `npm run bench:readme`)', () => {
    expect(readmeBlock(SCALE_BEGIN, SCALE_END)).toBe(renderScale(loadScaleRecords()))
  })

  it('puts a run beside the before record only when it comes from another commit', () => {
    const run = (commit: string, cpu: number): ReturnType<typeof buildResult> => ({
      ...buildResult('scale', benchArgs([]), {
        figures: { n5JoinP99Ms: { value: 400, unit: 'ms' }, n5CpuMedianPct: { value: cpu, unit: '%' }, n5CpuMaxPct: { value: cpu + 1, unit: '%' } },
        targets: []
      }),
      commit
    })
    const dir = mkdtempSync(join(tmpdir(), 'scale-readme-'))
    try {
      const [before, after] = [join(dir, 'before.json'), join(dir, 'after.json')]
      writeFileSync(before, JSON.stringify(run('a'.repeat(40), 4)))
      writeFileSync(after, JSON.stringify(run('a'.repeat(40), 4)))
      expect(loadScaleRecords(before, after).after).toBeNull()
      writeFileSync(after, JSON.stringify(run('b'.repeat(40), 0.5)))
      const table = renderScale(loadScaleRecords(before, after))
      expect(table).toContain('| 5 | before | 400 ms | 4 % (5 %) |')
      expect(table).toContain('| 5 | after | 400 ms | 0.5 % (1.5 %) |')
      expect(table).toContain('`aaaaaaa`')
      expect(table).toContain('`bbbbbbb`')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('bench reports', () => {
  const args = (...argv: string[]): ReturnType<typeof benchArgs> => benchArgs(argv, ['--items'])

  it('check each target against its figure; a missing value never passes', () => {
    expect(checkTarget({ figure: 'x', comparator: '<=', bound: 10 }, { value: 10, unit: 'ms' }).pass).toBe(true)
    expect(checkTarget({ figure: 'x', comparator: '<=', bound: 10 }, { value: 10.1, unit: 'ms' }).pass).toBe(false)
    expect(checkTarget({ figure: 'x', comparator: '>=', bound: 1.8 }, { value: 1.79, unit: '×' }).pass).toBe(false)
    expect(checkTarget({ figure: 'x', comparator: '>=', bound: 1.8 }, { value: null, unit: '×' }).pass).toBe(false)
    // a scale below 1 tightens both kinds of bound
    expect(checkTarget({ figure: 'x', comparator: '<=', bound: 10 }, { value: 5, unit: 'ms' }, 0.1).pass).toBe(false)
    expect(checkTarget({ figure: 'x', comparator: '>=', bound: 1 }, { value: 5, unit: '×' }, 0.1).pass).toBe(false)
  })

  it('fail as a whole when one target misses, and the table says which', () => {
    const result = buildResult('demo', args('--quick'), {
      figures: { a: { value: 3, unit: 'ms', label: 'p50' }, b: { value: 2, unit: '×', label: 'ratio' } },
      targets: [{ figure: 'a', comparator: '<=', bound: 5 }, { figure: 'b', comparator: '>=', bound: 2.5 }]
    })
    expect(result.pass).toBe(false)
    expect(result.command).toBe('npm run bench:demo -- --quick')
    expect(result.mode).toBe('quick')
    const table = renderMeasured([result])
    expect(table).toContain('| p50 | p50 3 ms | p50 ≤ 5 ms | yes |')
    expect(table).toContain('| ratio | ratio 2× | ratio ≥ 2.5× | **no** (ratio) |')
  })

  it('record the npm script that ran them when it writes a result of another name', () => {
    const result = buildResult('trace-poisson', benchArgs(['--arrivals=poisson'], ['--arrivals']), { figures: {}, targets: [], script: 'trace' })
    expect(result.name).toBe('trace-poisson')
    expect(result.command).toBe('npm run bench:trace -- --arrivals=poisson')
  })

  it('refuse a target or row naming a figure that was not reported', () => {
    expect(() => buildResult('demo', args(), { figures: {}, targets: [{ figure: 'gone', comparator: '<=', bound: 1 }] })).toThrow(/gone/)
  })

  it('parse the common flags and refuse unknown ones', () => {
    const a = args('--report-only', '--items=40', '--target-scale', '0.5')
    expect([a.reportOnly, a.quick, a.number('--items', 1), a.targetScale]).toEqual([true, false, 40, 0.5])
    expect(() => args('--itmes=4')).toThrow(/unknown argument/)
    // a switch takes no value, so `--soak --soak-seconds 30` is two flags
    const soak = benchArgs(['--soak', '--soak-seconds', '30'], ['--soak', '--soak-seconds'], ['--soak'])
    expect([soak.has('--soak'), soak.number('--soak-seconds', 600)]).toEqual([true, 30])
    expect(() => benchArgs(['--quick=yes'])).toThrow(/no value/)
    expect(() => args('--items', 'many').number('--items', 1)).toThrow(/number/)
  })

  it('replace only the text between the markers', () => {
    expect(replaceMeasured(`a\n${BEGIN}\nold\n${END}\nb`, `${BEGIN}\nnew\n${END}`)).toBe(`a\n${BEGIN}\nnew\n${END}\nb`)
    expect(() => replaceMeasured('no markers', '')).toThrow(/bench:begin/)
  })
})
