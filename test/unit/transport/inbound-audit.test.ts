import { describe, it, expect } from 'vitest'
import type { MultiaddrConnection } from '@libp2p/interface'
import { InboundAudit } from '../../../src/transport/inbound-audit.ts'
import type { Logger } from '../../../src/logger.ts'

/** An inbound TCP connection as the gater sees it (js-libp2p style stub): closing it fires 'close'. */
function connection (remote: string): MultiaddrConnection & { close: () => void } {
  const events = new EventTarget()
  return Object.assign(events, {
    remoteAddr: { toString: () => remote },
    close: () => { events.dispatchEvent(new Event('close')) }
  }) as unknown as MultiaddrConnection & { close: () => void }
}

describe('InboundAudit', () => {
  it('connections that close without a handshake are logged once a minute per host, not once each', () => {
    const lines: Array<{ fields: Record<string, unknown>, msg: string }> = []
    const log = { warn: (fields: Record<string, unknown>, msg: string) => { lines.push({ fields, msg }) } } as unknown as Logger
    const audit = new InboundAudit(log)
    const gater = audit.gater()
    for (let i = 0; i < 10; i++) {
      const maConn = connection(`/ip4/203.0.113.7/tcp/${40_000 + i}`)
      expect(gater.denyInboundConnection?.(maConn)).toBe(false)
      maConn.close()
    }
    expect(lines).toHaveLength(1)
    expect(lines[0]!.fields.reason).toBe('no-handshake')
    expect(lines[0]!.msg).toMatch(/closed without negotiating gridd mTLS/)
    // after a SIGSTOP, members' dials that timed out meanwhile land here: not only plaintext or garbage
    expect(lines[0]!.msg).toMatch(/or a dialler that gave up waiting, as members do while this node is paused or stalled\)$/)

    // another host is logged on its own; a connection that reached the encrypter is not logged here at all
    const other = connection('/ip4/198.51.100.2/tcp/5000')
    gater.denyInboundConnection?.(other)
    other.close()
    const negotiated = connection('/ip4/192.0.2.1/tcp/5000')
    gater.denyInboundConnection?.(negotiated)
    audit.negotiated(negotiated as never)
    negotiated.close()
    expect(lines.map(l => l.fields.remote)).toEqual(['/ip4/203.0.113.7/tcp/40000', '/ip4/198.51.100.2/tcp/5000'])
  })
})
