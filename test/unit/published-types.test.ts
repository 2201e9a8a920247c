import { it, expect, onTestFinished } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tsc = join(root, 'node_modules/typescript/bin/tsc')

/** tsc's exit code and output (it prints its errors on stdout). */
async function runTsc (args: string[]): Promise<{ code: number, out: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [tsc, ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr })
    })
  })
}

// An app embedding gridd compiles its published declarations with its own settings: here the strictest
// usual ones with @types/node alone, no "dom" lib, and skipLibCheck off (tsc's default). They named the DOM's
// CryptoKey and Crypto (certs), and loaded libp2p's and @peculiar/x509's declarations (through node.workers,
// the status and channel options' files, an add-on's schema type), which are written against the DOM.
it('the published .d.ts compile under tsc --strict with @types/node alone (no DOM lib)', async () => {
  // inside the repo (test-results/ is ignored), so the declarations' own imports (valibot, pino, …) resolve
  await mkdir(join(root, 'test-results'), { recursive: true })
  const dir = await mkdtemp(join(root, 'test-results', 'published-types-'))
  onTestFinished(async () => { await rm(dir, { recursive: true, force: true }) })
  const emitted = await runTsc(['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--outDir', join(dir, 'dts')])
  expect(emitted).toEqual({ code: 0, out: '' })
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2023'], types: ['node'], strict: true, skipLibCheck: false, noEmit: true },
    files: ['app.ts']
  }))
  await writeFile(join(dir, 'app.ts'), `
import type * as gridd from './dts/src/index.js'
import { GridNode, healthAddon, createCa, issueCertificate } from './dts/src/index.js'
export type Everything = typeof gridd
const ca = await createCa()
const node = await GridNode.start({ tls: { ca: ca.cert, ...await issueCertificate(ca, { name: 'app' }) }, port: 0 })
const { url } = await node.use(healthAddon, { port: 0, alone: true })
node.channel('settings').set('url', url ?? null)
const run = node.pipeline<number, string>('p', { source: [1], stages: [{ name: 's', module: './s.ts' }], sink: (line) => { console.log(line.length) } })
await run.done
await node.workers.spawn({ stage: 's', module: './s.ts' })
console.log(node.status().members.length, await node.run('./t.ts', 1))
await node.stop()
`)
  const compiled = await runTsc(['-p', dir])
  expect(compiled.out).toBe('')
  expect(compiled.code).toBe(0)
})
