import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const DEMO = fileURLToPath(new URL('../../examples/dev-grid/run.ts', import.meta.url))

describe('npm run example:dev-grid (examples/dev-grid)', () => {
  it('starts three dev nodes in a chain that all see each other alive over mTLS, then stops them', async () => {
    const { code, stdout } = await new Promise<{ code: number, stdout: string }>(resolve => {
      // on timeout execFile sends SIGTERM, which the example handles by stopping its three nodes
      execFile(process.execPath, [DEMO, '--once'], { timeout: 60_000 }, (err, stdout) => {
        resolve({ code: err == null ? 0 : Number(err.code ?? 1), stdout })
      })
    })
    expect(code).toBe(0)
    const nodes = [...stdout.matchAll(/^node (12D3\w+) /gm)].map(m => m[1])
    expect(nodes).toHaveLength(3)
    // a chain join, yet every node's table lists the two others as alive
    for (const id of nodes) {
      expect(stdout.split(`node ${id}`).length - 1).toBe(1)
      expect(stdout.match(new RegExp(`^${id} +alive`, 'gm'))?.length).toBe(2)
    }
  }, 75_000)
})
