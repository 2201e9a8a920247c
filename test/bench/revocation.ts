/**
 * `npm run bench:revocation`: how long a revoked certificate survives in a
 * grid. Three `grid node` processes and a member to revoke; `grid certs revoke
 * NAME --peer` hands the CRL to one node; the figure is the time from that
 * node accepting the CRL to the last node closing the member's connections
 * (the nodes' own log times, one clock), and from the CLI's start (its own
 * start-up and the push included). Each run revokes a fresh member, so the
 * CRL grows by one entry and its number by one. Runs: 5 (3 with --quick).
 * Target: p99 of the spread <= 5000 ms (issue 13).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { connectedTo, revokeAndMeasure } from '../integration/helpers/revocation.ts'
import type { GridProcess } from '../integration/helpers/grid-process.ts'
import { bundle } from '../../scripts/bundle.ts'
import { startGridNode, summarize } from './lib.ts'
import { runBench } from './report.ts'

await runBench('revocation', ['--runs'], async (args, defer) => {
  const runs = Math.max(1, Math.round(args.number('--runs', args.quick ? 3 : 5)))
  const dir = await mkdtemp(join(tmpdir(), 'gridd-bench-revocation-'))
  defer(async () => { await rm(dir, { recursive: true, force: true }) })
  await bundle()
  await initCertsDir(dir)
  for (const name of ['n1', 'n2', 'n3', ...Array.from({ length: runs }, (_, i) => `victim${i}`)]) await issueIntoDir(dir, name, { roles: ['member', 'agent'] })
  const start = async (name: string, extra: string[] = []): Promise<GridProcess> => {
    const node = await startGridNode(['--certs', dir, '--name', name, '--host', '127.0.0.1', '--port', '0', '--heartbeat-ms', '200', '--data-dir', join(dir, `data-${name}`), ...extra])
    defer(async () => { await node.stop('SIGKILL') })
    return node
  }
  const n1 = await start('n1')
  const nodes = [n1, await start('n2', ['--peer', n1.address]), await start('n3', ['--peer', n1.address])]
  const spread: number[] = []
  const endToEnd: number[] = []
  for (let i = 0; i < runs; i++) {
    const victim = await start(`victim${i}`, ['--peer', n1.address])
    for (const n of nodes) await n.firstLine(connectedTo(victim.peerId), 30_000)
    // the entry node rotates, so each run's CRL takes a different path
    const timing = await revokeAndMeasure(dir, `victim${i}`, victim, nodes[i % nodes.length]!, nodes)
    spread.push(timing.spreadMs)
    endToEnd.push(timing.endToEndMs)
    process.stderr.write(`# run ${i + 1}/${runs}: spread ${timing.spreadMs} ms (per node ${timing.dropsMs.join(', ')}), end to end ${timing.endToEndMs} ms\n`)
    await victim.stop('SIGKILL')
  }
  const s = summarize(spread)
  const e = summarize(endToEnd)
  return {
    figures: {
      spreadP50: { value: s.p50, unit: 'ms', label: 'p50' },
      spreadMax: { value: s.max, unit: 'ms', label: 'max' },
      endToEndP50: { value: e.p50, unit: 'ms', label: 'CLI to last drop p50' }
    },
    targets: [{ figure: 'spreadMax', comparator: '<=', bound: 5000 }],
    rows: [{ what: 'Revocation: CRL accepted by one node to a revoked member dropped by all 3 nodes', figures: ['spreadP50', 'spreadMax', 'endToEndP50'], note: `${runs} runs, a fresh member revoked each run; \`grid certs revoke --peer\` to one node` }],
    details: { spread, endToEnd }
  }
})
