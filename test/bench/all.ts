/**
 * `npm run bench [-- --quick] [--report-only] [--target-scale S] [--soak | --soak-seconds N] [--sizes 5,10,20,50]`:
 * every benchmark in turn, each its own process (so one's leftovers cannot
 * skew the next), all run even after one misses. Exits 1 when any missed a
 * target or failed. Then `npm run bench:readme` puts bench-results/ into the README.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { bundle } from '../../scripts/bundle.ts'
import { benchArgs, UsageError } from './report.ts'
import { table } from './lib.ts'

/** In run order. A new benchmark is one more entry (its file is test/bench/<name>.ts); `only` are flags for it alone. */
const BENCHES: Array<{ name: string, only?: string[] }> = [
  { name: 'membership', only: ['--soak', '--soak-seconds'] },
  { name: 'scale', only: ['--sizes', '--window-seconds'] },
  { name: 'spawn' },
  { name: 'scaling' },
  { name: 'dispatch' },
  { name: 'equalizer' },
  { name: 'owner-memory' },
  { name: 'durable' },
  { name: 'deploy' },
  { name: 'peers' },
  { name: 'revocation' },
  { name: 'api' },
  { name: 'tasks' }
]

let args: ReturnType<typeof benchArgs>
try {
  args = benchArgs(process.argv.slice(2), ['--soak', '--soak-seconds', '--sizes', '--window-seconds'], ['--soak'])
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`)
  process.exit(err instanceof UsageError ? 2 : 1)
}

/** The given flags meant for one bench: the common ones, plus those only it takes. */
function flagsFor (only: string[] = []): string[] {
  const out: string[] = []
  for (let i = 0; i < args.given.length; i++) {
    const arg = args.given[i]!
    const name = arg.split('=')[0]!
    const parts = [arg]
    if (!arg.includes('=') && !['--quick', '--report-only', '--soak'].includes(name)) parts.push(args.given[++i]!)
    if (['--quick', '--report-only', '--target-scale', ...only].includes(name)) out.push(...parts)
  }
  return out
}

// the daemons run what `grid` runs: the bundle, rebuilt from these sources once for all
await bundle()
const started = Date.now()
const outcome: string[][] = []
let failed = 0
let current: ReturnType<typeof spawn> | undefined
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { current?.kill(signal); process.exitCode = 130 })
}
for (const bench of BENCHES) {
  if (process.exitCode === 130) break
  const flags = flagsFor(bench.only)
  process.stdout.write(`\n=== bench:${bench.name} ${flags.join(' ')}\n`)
  const t0 = Date.now()
  current = spawn(process.execPath, [fileURLToPath(new URL(`./${bench.name}.ts`, import.meta.url)), ...flags], { stdio: 'inherit' })
  const [code, signal] = await once(current, 'exit') as [number | null, NodeJS.Signals | null]
  if (code !== 0) failed++
  outcome.push([bench.name, code === 0 ? 'pass' : code === 1 ? 'FAIL (a target missed or an error)' : `FAIL (exit ${code ?? signal})`, `${Math.round((Date.now() - t0) / 1000)} s`])
}
process.stdout.write(`\n${table(['bench', 'result', 'took'], outcome)}total ${Math.round((Date.now() - started) / 1000)} s; ${failed === 0 ? 'every benchmark met its targets' : `${failed} failed`}. \`npm run bench:readme\` puts bench-results/ into the README.\n`)
if (process.exitCode !== 130) process.exitCode = failed === 0 ? 0 : 1
