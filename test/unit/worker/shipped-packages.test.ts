import { it, expect } from 'vitest'
import { fork } from 'node:child_process'
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalWorker } from '../../../src/agent/local-worker.ts'
import { ownPackageRoots } from '../../../src/agent/package-roots.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'

const WORKER_HOST = fileURLToPath(new URL('../../../src/cli/worker-host.ts', import.meta.url))

/** A package `name` in `dir`/node_modules whose index.js is `code`. */
async function installPackage (dir: string, name: string, code: string): Promise<void> {
  const root = join(dir, 'node_modules', name)
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'package.json'), JSON.stringify({ name, type: 'module', main: 'index.js' }))
  await writeFile(join(root, 'index.js'), code)
}

it('a package of the agent\'s own importing one it lacks never gets one planted above the roots (a dir others can write to)', async () => {
  // a shared dir anyone may write to, holding the agent's working directory (its own, 0755)
  const shared = await realpath(await mkdtemp(join(tmpdir(), 'gridd-shared-')))
  await chmod(shared, 0o777)
  const agentDir = join(shared, 'agent')
  await mkdir(agentDir, { mode: 0o755 })
  await chmod(agentDir, 0o755)
  // the agent's package has an optional dependency that is not installed, as many do
  await installPackage(agentDir, 'own-pkg', 'let extra = \'not installed\'\ntry { extra = (await import(\'optional-dep\')).default } catch {}\nexport default extra\n')
  // planted by another user in the shared dir: Node's lookup from the agent's package walks up to it
  await installPackage(shared, 'optional-dep', 'export default \'PLANTED\'\n')
  const roots = await ownPackageRoots(agentDir)
  expect(roots).not.toContain(shared)
  const source = 'import extra from \'own-pkg\'\nexport default () => extra\n'
  const cache = join(shared, 'cache')
  await mkdir(cache)
  const bundle = join(cache, `${sha256(source)}.mjs`)
  await writeFile(bundle, source)
  const child = fork(WORKER_HOST, ['w-000000000002', 'planted'], { serialization: 'advanced', stdio: 'ignore' })
  const worker = new LocalWorker(child, { id: 'w-000000000002', stage: 'planted', pid: child.pid ?? 0, resources: { cpu: 0, memoryMb: 0 } }, { workerId: 'w-000000000002', stage: 'planted', modulePath: bundle, env: {}, concurrency: 1, shippedFrom: roots, watchdog: false })
  try {
    expect(await worker.process(1)).toBe('not installed')
  } finally {
    await worker.kill()
    await rm(shared, { recursive: true, force: true })
  }
})
