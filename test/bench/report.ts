/**
 * What every benchmark shares: its command-line flags, checking its figures
 * against its targets, and writing `bench-results/<name>.json` (the only
 * source of the README's Measured table, see scripts/bench-readme.ts).
 *
 * A bench file is `await runBench('name', ['--items'], async (args, defer) => ({ figures, targets }))`:
 * it exits 1 when a target is missed (0 with `--report-only`), 1 when the body throws, 2 on a bad flag,
 * and runs everything passed to `defer` (stopping what it started) on every one of those paths and on SIGINT/SIGTERM.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { arch, availableParallelism, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { table } from './lib.ts'

export const RESULTS_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url))

export type Comparator = '<=' | '>='

/** One measured number. `label` is its short name inside a README row ("p50"); without one the id is used. */
export interface Figure { value: number | null, unit: string, label?: string }

export interface TargetSpec { figure: string, comparator: Comparator, bound: number }
export interface Target extends TargetSpec { value: number | null, pass: boolean }

/** One README row: what is measured, which figures it shows (in order), and context after them. */
export interface Row { what: string, figures: string[], note?: string }

export interface ReportInput {
  figures: Record<string, Figure>
  targets: TargetSpec[]
  /** README rows; default: one row per figure. */
  rows?: Row[]
  /** Anything else worth keeping (samples, per-run detail); only in the JSON. */
  details?: unknown
  /** The npm script that runs it (`bench:<script>`), when it is not `bench:<name>`: one script writing results of two names. */
  script?: string
}

export interface Machine { cores: number, node: string, platform: string, memoryGb: number }

export interface BenchResult {
  name: string
  command: string
  mode: 'quick' | 'full'
  figures: Record<string, Figure>
  targets: Target[]
  rows: Row[]
  pass: boolean
  /** Bounds were scaled by `--target-scale` (a demonstration, not the project's targets). */
  targetScale: number
  date: string
  commit: string
  /** The worktree had uncommitted changes (besides bench-results/ and README.md) when it ran. */
  dirty: boolean
  machine: Machine
  details?: unknown
}

export interface BenchArgs {
  quick: boolean
  reportOnly: boolean
  /** Multiplies every `<=` bound and divides every `>=` bound: below 1 tightens them (`--target-scale=0.001` misses all). */
  targetScale: number
  /** The arguments as given, for the `command` recorded in the JSON. */
  given: string[]
  /** A bench-specific `--name=value` or `--name value`, or `fallback`. */
  number: (name: string, fallback: number) => number
  /** A bench-specific value as given. */
  text: (name: string) => string | undefined
  has: (name: string) => boolean
}

const COMMON = ['--quick', '--report-only', '--target-scale']

export class UsageError extends Error {}

/** Parses the common flags plus `allowed` (each `--name`, taking a value unless it is in `switches`). */
export function benchArgs (argv: string[], allowed: string[] = [], switches: string[] = []): BenchArgs {
  const values = new Map<string, string | true>()
  const flagSwitches = new Set(['--quick', '--report-only', ...switches])
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (![...COMMON, ...allowed].includes(name)) throw new UsageError(`unknown argument "${arg}" (known: ${[...COMMON, ...allowed].join(' ')})`)
    if (flagSwitches.has(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`)
      values.set(name, true)
    } else {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
      if (value == null) throw new UsageError(`${name} needs a value`)
      values.set(name, value)
    }
  }
  const number = (name: string, fallback: number): number => {
    const raw = values.get(name)
    if (raw == null) return fallback
    const n = Number(raw)
    if (raw === true || raw === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${name} needs a number >= 0, got "${String(raw)}"`)
    return n
  }
  const targetScale = number('--target-scale', 1)
  if (targetScale === 0) throw new UsageError('--target-scale must be > 0')
  return { quick: values.has('--quick'), reportOnly: values.has('--report-only'), targetScale, given: argv, number, text: name => { const v = values.get(name); return typeof v === 'string' ? v : undefined }, has: name => values.has(name) }
}

/** The comparison a target makes, with its bound scaled. */
export function checkTarget (spec: TargetSpec, figure: Figure | undefined, scale = 1): Target {
  const bound = spec.comparator === '<=' ? spec.bound * scale : spec.bound / scale
  const value = figure?.value ?? null
  const pass = value != null && (spec.comparator === '<=' ? value <= bound : value >= bound)
  return { ...spec, bound, value, pass }
}

function git (args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

export function machine (): Machine {
  return { cores: availableParallelism(), node: process.version, platform: `${process.platform} ${arch()}`, memoryGb: Math.round(totalmem() / 2 ** 30) }
}

/** The result record for `input`; throws when a target or row names a figure that does not exist. */
export function buildResult (name: string, args: BenchArgs, input: ReportInput): BenchResult {
  const rows = input.rows ?? Object.keys(input.figures).map(id => ({ what: input.figures[id]!.label ?? id, figures: [id] }))
  for (const id of [...input.targets.map(t => t.figure), ...rows.flatMap(r => r.figures)]) {
    if (input.figures[id] == null) throw new Error(`bench ${name}: a target or row names figure "${id}", which it did not report`)
  }
  const targets = input.targets.map(t => checkTarget(t, input.figures[t.figure], args.targetScale))
  return {
    name,
    command: [`npm run bench:${input.script ?? name}`, ...(args.given.length > 0 ? ['--', ...args.given] : [])].join(' '),
    mode: args.quick ? 'quick' : 'full',
    figures: input.figures,
    targets,
    rows,
    pass: targets.every(t => t.pass),
    targetScale: args.targetScale,
    date: new Date().toISOString(),
    commit: git(['rev-parse', 'HEAD']),
    // the results, the README they feed and the plot bench:trace draws change with every run: only other
    // files make a run's code differ from its commit
    dirty: git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench-results', ':!README.md', ':!docs/bench-trace.svg']) !== '',
    machine: machine(),
    ...(input.details === undefined ? {} : { details: input.details })
  }
}

export function formatValue (figure: Figure): string {
  return figure.value == null ? 'none (timed out or not measured)' : `${figure.value}${figure.unit === '' ? '' : ` ${figure.unit}`}`
}

/** Writes the JSON and prints every figure with its target and verdict. */
export function writeResult (result: BenchResult, dir = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true })
  const file = `${dir}${result.name}.json`
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
  const rows = Object.entries(result.figures).map(([id, f]) => {
    const checks = result.targets.filter(t => t.figure === id)
    return [id, formatValue(f), checks.map(t => `${t.comparator} ${t.bound}`).join(', '), checks.length === 0 ? '' : checks.every(t => t.pass) ? 'pass' : 'FAIL']
  })
  process.stdout.write(`\n${result.name} (${result.mode}${result.targetScale === 1 ? '' : `, targets scaled by ${result.targetScale}`}):\n`)
  process.stdout.write(table(['figure', 'measured', 'target', ''], rows))
  const missed = result.targets.filter(t => !t.pass)
  process.stdout.write(`${result.pass ? 'all targets met' : `${missed.length} of ${result.targets.length} targets missed: ${missed.map(t => t.figure).join(', ')}`}; written to ${file}\n`)
  return file
}

export type Defer = (cleanup: () => unknown) => void

/**
 * Runs one benchmark and exits: 0 when every target is met (or `--report-only`),
 * 1 on a miss or an error, 2 on a bad flag. Deferred cleanups run in reverse on every path.
 */
export async function runBench (name: string, allowed: string[], body: (args: BenchArgs, defer: Defer) => Promise<ReportInput>, switches: string[] = []): Promise<never> {
  const cleanups: Array<() => unknown> = []
  const cleanUp = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) {
      try { await fn() } catch (err) { process.stderr.write(`# cleanup failed: ${String(err)}\n`) }
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`# ${signal}: stopping what ${name} started\n`)
      void cleanUp().finally(() => process.exit(130))
    })
  }
  // a stray rejection would end the process without the cleanups: the child processes would outlive it
  process.on('unhandledRejection', err => {
    process.stderr.write(`bench ${name} failed: unhandled rejection ${(err as Error)?.stack ?? String(err)}\n`)
    void cleanUp().finally(() => process.exit(1))
  })
  let code = 1
  try {
    const args = benchArgs(process.argv.slice(2), allowed, switches)
    let input: ReportInput
    try {
      input = await body(args, fn => { cleanups.push(fn) })
    } finally {
      await cleanUp()
    }
    const result = buildResult(name, args, input)
    writeResult(result)
    code = result.pass || args.reportOnly ? 0 : 1
  } catch (err) {
    code = err instanceof UsageError ? 2 : 1
    process.stderr.write(`bench ${name} ${err instanceof UsageError ? 'usage' : 'failed'}: ${err instanceof UsageError ? err.message : ((err as Error).stack ?? String(err))}\n`)
  }
  // libp2p leaves timers behind after stop(); the exit code carries the verdict
  process.exit(code)
}
