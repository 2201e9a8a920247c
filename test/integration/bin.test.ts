import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { copyFile, mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GRID_BIN, runGrid } from './helpers/grid-process.ts'

/** bin/grid.js picks the bundle when it is current, the sources otherwise; a copy of it runs over stand-in trees. */
describe('bin/grid.js', () => {
  let root: string
  let dir: string
  const run = async (): Promise<{ stdout: string, stderr: string }> => await new Promise((resolve, reject) => {
    execFile(process.execPath, [join(dir, 'bin', 'grid.js'), 'x'], (err, stdout, stderr) => { if (err != null) reject(err); else resolve({ stdout, stderr }) })
  })
  const at = async (file: string, seconds: number): Promise<void> => { await utimes(join(dir, file), seconds, seconds) }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'gridd-bin-'))
    dir = join(root, 'checkout')
    await mkdir(join(dir, 'bin'), { recursive: true })
    await mkdir(join(dir, 'src', 'cli'), { recursive: true })
    await mkdir(join(dir, 'dist', 'bundle'), { recursive: true })
    await copyFile(GRID_BIN, join(dir, 'bin', 'grid.js'))
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
    await writeFile(join(dir, 'src', 'cli', 'index.ts'), "export async function main (argv: string[]): Promise<void> { console.log('sources', argv.at(-1)) }\n")
    await writeFile(join(dir, 'dist', 'bundle', 'grid.js'), "export async function main (argv) { console.log('bundle', argv.at(-1)) }\n")
  })
  afterEach(async () => { await rm(root, { recursive: true, force: true }) })

  it('runs the bundle when it is at least as new as every source file', async () => {
    await at('src/cli/index.ts', 1_000_000)
    await at('dist/bundle/grid.js', 2_000_000)
    expect(await run()).toEqual({ stdout: 'bundle x\n', stderr: '' })
  })

  it('runs the sources, and says why, when a source file is newer than the bundle', async () => {
    await at('dist/bundle/grid.js', 1_000_000)
    await at('src/cli/index.ts', 2_000_000)
    const { stdout, stderr } = await run()
    expect(stdout).toBe('sources x\n')
    expect(stderr).toMatch(/older than src\/.*npm run build/)
  })

  it('runs the sources when there is no bundle', async () => {
    await rm(join(dir, 'dist'), { recursive: true })
    expect(await run()).toEqual({ stdout: 'sources x\n', stderr: '' })
  })

  it('runs the bundle of a package shipped without sources', async () => {
    await rm(join(dir, 'src'), { recursive: true })
    expect(await run()).toEqual({ stdout: 'bundle x\n', stderr: '' })
  })

  it('an installed package runs its bundle whatever the modification times (npm stamps them in extraction order)', async () => {
    await at('dist/bundle/grid.js', 1_000_000)
    await at('src/cli/index.ts', 2_000_000)
    const installed = join(root, 'node_modules', 'gridd')
    await mkdir(join(root, 'node_modules'))
    await rename(dir, installed)
    dir = installed
    expect(await run()).toEqual({ stdout: 'bundle x\n', stderr: '' })
  })

  // a system Node 20 (`node bin/grid.js` outside npm) failed with "No such built-in module: node:sqlite";
  // the version is faked by a preload, as the test runs on the pinned Node 24
  it('on a Node older than 22.18: exit 2 with one line naming the version and `npx grid`, nothing imported', async () => {
    const fake = 'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.20.2"}})'
    const res = await new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
      const child = execFile(process.execPath, ['--import', fake, join(dir, 'bin', 'grid.js'), 'x'], (_err, stdout, stderr) => { resolve({ code: child.exitCode, stdout, stderr }) })
    })
    expect(res.code, res.stderr).toBe(2)
    expect(res.stdout).toBe('')
    expect(res.stderr.trim().split('\n'), res.stderr).toHaveLength(1)
    expect(res.stderr).toMatch(/needs Node >= 22\.18, and this is Node 20\.20\.2 .*npx grid/)
  })

  it('the real bin finds the bundle the test setup built current', async () => {
    const { code, stdout, stderr } = await runGrid(['--version'])
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: '0.1.0', stderr: '' })
  })
})
