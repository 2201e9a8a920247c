import { it, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as connectTcp } from 'node:net'
import { connect } from 'node:tls'
import { pino } from 'pino'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import { JoinIssuer } from '../../../src/join/issuer.ts'
import { TokenStore } from '../../../src/join/token-store.ts'
import { MAX_LINES_PER_WINDOW } from '../../../src/transport/mtls/refusal-log.ts'

/** One garbage request from local address `from` (any of 127.0.0.0/8 reaches 127.0.0.1 on Linux). */
async function garbageFrom (from: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ socket: connectTcp({ host: '127.0.0.1', port, localAddress: from }), rejectUnauthorized: false }, () => { socket.write('not json\n') })
    socket.on('data', () => {}).on('end', () => { resolve() }).on('error', reject)
  })
}

it('bad join requests from many source addresses (an IPv6 prefix holds plenty) are logged at most MAX_LINES_PER_WINDOW times a minute in all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-join-flood-'))
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const ca = await createCa()
  const issuer = new JoinIssuer({ ca, server: await issueCertificate(ca, { name: 'issuer', roles: ['member'] }), tokens: new TokenStore(dir), host: '127.0.0.1', port: 0, addresses: () => [], log })
  try {
    const { port } = await issuer.start()
    for (let i = 0; i < MAX_LINES_PER_WINDOW + 30; i++) await garbageFrom(`127.0.${1 + Math.floor(i / 200)}.${2 + (i % 200)}`, port)
    expect(lines.filter(l => typeof l.msg === 'string' && l.msg.startsWith('join refused')).length).toBeLessThanOrEqual(MAX_LINES_PER_WINDOW)
  } finally {
    await issuer.stop()
    await rm(dir, { recursive: true, force: true })
  }
}, 60_000)
