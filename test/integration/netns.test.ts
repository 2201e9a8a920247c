import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { netnsSkipReason } from '../netns/network.ts'
import { NetnsGrid, allJoined, partitionAndHeal } from '../netns/scenarios.ts'
import { runGrid, startInHost } from '../netns/grid.ts'

/**
 * The short network-namespace run inside `npm test` (the full one: `npm run test:netns`):
 * two hosts, each its own namespace and address; the second joins with a token; then a
 * partition and its heal.
 */
const unavailable = netnsSkipReason()

describe.skipIf(unavailable != null)('two hosts in their own network namespaces', () => {
  let grid: NetnsGrid

  beforeAll(async () => {
    grid = await NetnsGrid.create(2)
  })

  afterAll(async () => {
    await grid?.close()
  })

  it('a host joins with a token through the other host\'s address; partition, both mark the other failed, heal, both alive again', async () => {
    await grid.start(0, ['--ca-key', join(grid.certs, 'ca', 'ca.key')])
    await grid.nodes[0]!.firstLine(l => l.msg === 'join service listening: nodes may join with a token')
    const token = await runGrid(['certs', 'token', 'create', '--role', 'agent', '--uses', '1', '--ttl', '5m', '--dir', grid.certs])
    expect(token.code, token.stderr).toBe(0)
    grid.nodes[1] = await startInHost(grid.net, 1, ['--join', token.stdout.trim(), '--peer', grid.address(0), '--data-dir', join(grid.dir, 'n1-data')])
    await grid.nodes[1].firstLine(l => l.msg === 'joined with a token: certificate issued and stored')
    // the issuer saw the joiner come from its own namespace's address, not from loopback
    const issued = await grid.nodes[0]!.firstLine(l => l.msg === 'issued a certificate to a joining node')
    expect(String(issued.from)).toMatch(grid.net.hosts[1]!.address)
    await allJoined(grid.nodes)
    const times = await partitionAndHeal(grid, [1])
    process.stdout.write(`netns (2 hosts, 1|1): partition detected in ${times.detectionMs} ms, merged ${times.mergeMs} ms after the heal\n`)
    expect(times.detectionMs).toBeLessThan(30_000)
  })
})
