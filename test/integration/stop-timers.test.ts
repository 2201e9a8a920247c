import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { GridFixture } from './helpers/grid-fixture.ts'

const NODE_TS = pathToFileURL(join(import.meta.dirname, '../../src/node.ts')).href
const MATERIAL_TS = pathToFileURL(join(import.meta.dirname, '../../src/transport/mtls/material.ts')).href

/**
 * An app embedding two members that talk, then stops them, and says what still holds its event loop 300 ms
 * later (process.getActiveResourcesInfo(): ref'd timers, sockets, servers), if anything does. Run in a process
 * of its own: the test runner's own timers and sockets would blur it.
 */
function embeddingApp (certs: string, dataDir: string): string {
  return `
import { GridNode } from '${NODE_TS}'
import { loadCerts } from '${MATERIAL_TS}'
const base = { host: '127.0.0.1', port: 0, heartbeatMs: 200 }
const a = await GridNode.start({ ...base, tls: await loadCerts('${certs}', 'n1'), dataDir: '${dataDir}/a' })
const b = await GridNode.start({ ...base, tls: await loadCerts('${certs}', 'n2'), dataDir: '${dataDir}/b', peers: [a.addresses[0]] })
while (!a.members().some(m => m.id === b.peerId && m.state === 'alive')) await new Promise(resolve => setTimeout(resolve, 50))
// past gossipsub's first heartbeat (100 ms after its start, then every second): one is scheduled when they stop
await new Promise(resolve => setTimeout(resolve, 300))
await b.stop()
await a.stop()
// nothing left holds the process: it exits now, and this unref'd timer never fires
setTimeout(() => { process.stdout.write(JSON.stringify({ stillAlive: process.getActiveResourcesInfo() })) }, 300).unref()
`
}

describe('stop() leaves nothing running', () => {
  let grid: GridFixture
  beforeAll(async () => { grid = await GridFixture.create(2) })
  afterAll(async () => { await grid?.close() })

  it('no timer of libp2p or gossipsub holds an embedding app alive once both its nodes have stopped', async () => {
    const script = join(grid.dir, 'app.ts')
    await writeFile(script, embeddingApp(grid.dir, grid.dir))
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [script], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err != null) reject(new Error(`${err.message}\n${stderr}`))
        else resolve(stdout)
      })
    })
    // before: { stillAlive: ['Timeout', …] } 300 ms after both stops: gossipsub's next heartbeat and the address
    // manager's debounced peer-store update (one per node, 1 s after its listener closed), on nodes already stopped
    expect(stdout).toBe('')
  }, 60_000)
})
