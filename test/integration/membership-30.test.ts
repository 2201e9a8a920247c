import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { eventually } from './helpers/grid-process.ts'

const N = 30
// 30 nodes share one process (and, in CI or under a CPU hog, two cores with other test files): a
// starved event loop must not read as a failure, or the grid flaps instead of converging. This test
// is about convergence; failure detection has its own tests and benchmark.
const PATIENT = { suspectAfterMs: 10_000, suspicionMinMs: 5_000, suspicionMaxMs: 10_000 }

describe(`${N} nodes in one process on 127.0.0.1`, () => {
  const nodes: GridNode[] = []
  let dir = ''

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it(`converge to ${N - 1} alive members each`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-30-'))
    await initCertsDir(dir)
    for (let i = 0; i < N; i++) {
      await issueIntoDir(dir, `m${i}`, { roles: ['member', 'agent'] })
      // each joins through a random earlier node: no single hub
      const seed = nodes.length === 0 ? [] : [nodes[Math.floor(Math.random() * nodes.length)]!.addresses[0]!]
      nodes.push(await GridNode.start({ host: '127.0.0.1', port: 0, peers: seed, tls: await loadCerts(dir, `m${i}`), heartbeatMs: 1000, ...PATIENT }))
    }
    await eventually(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === N - 1) ? true : undefined, 150_000, 500)
    for (const node of nodes) {
      expect(node.members().map(m => m.id)).not.toContain(node.peerId)
      expect(new Set(node.members().map(m => m.id)).size).toBe(N - 1)
    }
  }, 200_000)
})
