/** A bare libp2p echo peer for bench:dispatch: length-prefixed messages echoed on one stream, over the same mTLS transport. */
import { pino } from 'pino'
import { lpStream } from '@libp2p/utils'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'

const [dir = '', name = 'echo'] = process.argv.slice(2)
const libp2p = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, name), log: pino({ level: 'silent' }) })
await libp2p.handle('/bench/echo/1.0.0', async (stream) => {
  const lp = lpStream(stream)
  try {
    for (;;) await lp.write(await lp.read())
  } catch {}
})
process.stdout.write(`${libp2p.getMultiaddrs()[0]!.toString()}\n`)
process.on('SIGTERM', () => { void Promise.resolve(libp2p.stop()).then(() => process.exit(0)) })
