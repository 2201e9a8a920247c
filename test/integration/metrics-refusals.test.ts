import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir } from '../../src/certs/files.ts'
import { startNode, eventually } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import { freePort } from './helpers/ports.ts'
import { rawMtlsDial, rawBytes } from './helpers/raw-dial.ts'
import { parse, value } from './helpers/prom-text.ts'

// The refusal log holds one line a minute per host and reason; the counter must count each refusal,
// so that a revoked member redialling, or a scanner, can be alerted on.
describe('gridd_refused_connections_total on a real grid node', () => {
  let dir: string
  let node: GridProcess | undefined
  let url: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-refusals-'))
    await initCertsDir(join(dir, 'good'))
    await initCertsDir(join(dir, 'other'))
    const port = await freePort()
    url = `http://127.0.0.1:${port}/metrics`
    node = await startNode(['--certs', join(dir, 'good'), '--metrics', String(port)])
  })

  afterAll(async () => {
    await cleanup(async () => await node?.stop(), async () => await rm(dir, { recursive: true, force: true }))
  })

  const refused = async (reason: string): Promise<number> =>
    value(parse(await (await fetch(url)).text()), 'gridd_refused_connections_total', { direction: 'inbound', reason }) ?? 0

  it('counts every refused handshake by reason, also those the rate-limited log keeps quiet about', async () => {
    const other = join(dir, 'other')
    const foreign = { ca: await readFile(join(dir, 'good', 'ca.crt'), 'utf8'), cert: await readFile(join(other, 'node.crt'), 'utf8'), key: await readFile(join(other, 'node.key'), 'utf8') }
    // each closed by the node (the wait ends then); 2 s, as in mtls.test.ts, not 500 ms: the node checks the
    // certificate after our side of the handshake is done, and a loaded machine can stall it that long
    for (let k = 0; k < 3; k++) expect((await rawMtlsDial(node!.port, foreign)).keptOpen).toBe(false)
    await rawBytes(node!.port, 'GET / HTTP/1.1\r\n\r\n', 8000)
    // three refusals from one host and reason: one log line, three counted
    expect(await eventually(async () => await refused('untrusted-ca') >= 3 ? await refused('untrusted-ca') : undefined, 5000)).toBe(3)
    expect(await eventually(async () => await refused('no-handshake') >= 1 ? await refused('no-handshake') : undefined, 5000)).toBe(1)
    expect(node!.lines.filter(l => l.reason === 'untrusted-ca' && /refused inbound/.test(l.msg))).toHaveLength(1)
  })
})
