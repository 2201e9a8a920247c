/**
 * `npm test`'s pretest: installs what the tests need from outside npm, so the
 * README's two commands are the whole set-up on a fresh Debian machine: Debian's
 * `chromium`, which the dashboard's browser test drives through playwright-core,
 * and `redis-server`, which the durable-pipeline tests (and `bench:peers`,
 * `bench:durable`) start on a free port.
 *
 * Present: silent. Missing and this user may install packages (root with
 * apt-get): one line saying what is installed, apt's output to a log file.
 * Otherwise: stop with the exact command to run.
 *
 *   node scripts/ensure-test-deps.ts [--chromium PATH] [--redis-server PATH] [--apt-get PATH] [--log PATH]
 * (the flags point the decision at other paths: the unit test uses them)
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, openSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, delimiter, isAbsolute } from 'node:path'
import { parseArgs } from 'node:util'

export interface SystemPackage {
  /** Debian package name. */
  apt: string
  /** The file whose presence means the package is installed. */
  binary: string
  neededBy: string
}

export type Decision =
  | { action: 'none' }
  | { action: 'install', packages: SystemPackage[], command: string }
  | { action: 'stop', packages: SystemPackage[], command: string }

export const TEST_PACKAGES: SystemPackage[] = [
  { apt: 'chromium', binary: '/usr/bin/chromium', neededBy: "the dashboard's browser test" },
  { apt: 'redis-server', binary: '/usr/bin/redis-server', neededBy: 'the durable-pipeline tests (Redis Streams connectors)' }
]

/** Pure: what to do about the packages whose binaries are missing. */
export function decide (missing: SystemPackage[], { root, aptGet }: { root: boolean, aptGet: boolean }): Decision {
  if (missing.length === 0) return { action: 'none' }
  const names = missing.map(p => p.apt).join(' ')
  const sudo = root ? '' : 'sudo '
  const command = `${sudo}apt-get update && ${sudo}DEBIAN_FRONTEND=noninteractive apt-get install -y ${names}`
  return { action: root && aptGet ? 'install' : 'stop', packages: missing, command }
}

export function isExecutable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** A command name found on PATH (or an absolute path that is executable). */
export function onPath (command: string, path = process.env.PATH ?? ''): boolean {
  if (isAbsolute(command)) return isExecutable(command)
  return path.split(delimiter).some(dir => dir !== '' && isExecutable(join(dir, command)))
}

/** Runs apt-get with its output appended to the log; resolves to the exit code. */
async function runLogged (command: string, args: string[], logPath: string): Promise<number> {
  const fd = openSync(logPath, 'a')
  try {
    return await new Promise(resolve => {
      const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
      child.on('error', () => { resolve(127) })
      child.on('exit', code => { resolve(code ?? 1) })
    })
  } finally {
    closeSync(fd)
  }
}

export interface EnsureOptions {
  packages?: SystemPackage[]
  aptGet?: string
  logPath?: string
  root?: boolean
  print?: (line: string) => void
}

/** Returns the exit code for the pretest step: 0 when everything is there (now). */
export async function ensureTestDeps (options: EnsureOptions = {}): Promise<number> {
  const packages = options.packages ?? TEST_PACKAGES
  const aptGet = options.aptGet ?? 'apt-get'
  const logPath = options.logPath ?? join(tmpdir(), 'gridd-test-deps-apt.log')
  const print = options.print ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const root = options.root ?? process.getuid?.() === 0
  const missing = packages.filter(p => !isExecutable(p.binary))
  const decision = decide(missing, { root, aptGet: onPath(aptGet) })
  if (decision.action === 'none') return 0
  const what = decision.packages.map(p => `${p.apt} (${p.binary}, for ${p.neededBy})`).join(', ')
  if (decision.action === 'stop') {
    print(`npm test needs ${what}, which is missing and this user cannot install. Run:\n  ${decision.command}`)
    return 1
  }
  print(`installing ${what} with apt-get (log: ${logPath})`)
  const names = decision.packages.map(p => p.apt)
  const failed = (await runLogged(aptGet, ['update', '-q'], logPath)) !== 0 ||
    (await runLogged(aptGet, ['install', '-y', '-q', ...names], logPath)) !== 0
  const stillMissing = decision.packages.filter(p => !isExecutable(p.binary))
  if (failed || stillMissing.length > 0) {
    const why = failed ? 'apt-get failed' : `apt-get succeeded but ${stillMissing.map(p => p.binary).join(', ')} is still missing`
    print(`could not install ${names.join(' ')}: ${why}; see ${logPath}. The command was:\n  ${decision.command}`)
    return 1
  }
  return 0
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { chromium: { type: 'string' }, 'redis-server': { type: 'string' }, 'apt-get': { type: 'string' }, log: { type: 'string' } } })
  const override: Record<string, string | undefined> = { chromium: values.chromium, 'redis-server': values['redis-server'] }
  const packages = TEST_PACKAGES.map(p => override[p.apt] != null ? { ...p, binary: override[p.apt]! } : p)
  process.exitCode = await ensureTestDeps({ packages, aptGet: values['apt-get'], logPath: values.log })
}
