import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const run = async (example: string): Promise<string> => await new Promise((resolve, reject) => {
  execFile(process.execPath, [fileURLToPath(new URL(`../../examples/${example}/run.ts`, import.meta.url))], { timeout: 60_000 }, (err, stdout, stderr) => {
    if (err != null) reject(new Error(`${example} failed: ${err.message}\n${stderr}`))
    else resolve(stdout)
  })
})

describe('examples run on a dev grid', () => {
  it('hello upper-cases its words through a TypeScript stage', async () => {
    const out = await run('hello')
    expect(out.split('\n').slice(0, 4).sort()).toEqual(['GRID', 'HELLO', 'OF', 'WORKERS'])
    expect(out).toMatch(/in: 4,\s+out: 4,\s+failed: 0/)
  })

  it('logs fans 200 chunks out to 10,000 records and drops the 2,500 debug lines', async () => {
    const out = await run('logs')
    expect(out).toMatch(/in: 200,\s+out: 7500,\s+failed: 0/)
    expect(out).toMatch(/platform\/error\s+│\s+834/)
  })
})
