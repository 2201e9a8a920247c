import { runGrid, type GridProcess, type LogLine } from './grid-process.ts'

/** A node logged that it refused `peerName`'s certificate at a handshake, for `reason`. */
export function refusedFor (reason: string, peerName: string) {
  const named = new RegExp(`\\(${peerName}[,)]`)
  return (l: LogLine): boolean => l.reason === reason && typeof l.msg === 'string' && /^refused (in|out)bound/.test(l.msg) && named.test(l.msg)
}

/** A node's log says its connection to `peerId` opened (the CLI's 'peer connected'). */
export function connectedTo (peerId: string) {
  return (l: LogLine): boolean => l.msg === 'peer connected' && l.peer === peerId
}

export interface RevocationTiming {
  /** From the node that received the CRL accepting it to the last node dropping the revoked peer. */
  spreadMs: number
  /** From starting `grid certs revoke --peer` to the last drop (CLI start-up and the push included). */
  endToEndMs: number
  /** Each node's drop, in ms after the first acceptance. */
  dropsMs: number[]
}

/**
 * Revokes `victim`'s certificate with `grid certs revoke NAME --dir DIR --peer ENTRY` and waits until every
 * node of `nodes` has logged closing its connections (each must hold one when this is called). Log
 * times are the nodes' own `time` fields (one machine, one clock).
 */
export async function revokeAndMeasure (dir: string, victimName: string, victim: GridProcess, entry: GridProcess, nodes: GridProcess[]): Promise<RevocationTiming> {
  const marks = nodes.map(n => n.mark())
  const entryMark = entry.mark()
  const started = Date.now()
  const res = await runGrid(['certs', 'revoke', victimName, '--dir', dir, '--peer', entry.address, '--timeout', '10000'])
  if (res.code !== 0) throw new Error(`grid certs revoke failed (${res.code}): ${res.stderr}`)
  const accepted = await entry.waitFor(l => l.msg === 'certificate revocation list updated', 15_000, entryMark)
  const drops = await Promise.all(nodes.map(async (n, i) => await n.waitFor(l => l.peer === victim.peerId && /its certificate is revoked/.test(String(l.msg)), 15_000, marks[i])))
  const times = drops.map(l => Number(l.time))
  const last = Math.max(...times)
  return { spreadMs: last - Number(accepted.time), endToEndMs: last - started, dropsMs: times.map(t => t - Number(accepted.time)) }
}
