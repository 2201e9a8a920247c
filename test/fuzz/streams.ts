import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'

/** What one stream exchange came to, for the counts (a refusal by the node is the expected outcome). */
export type Outcome = 'answered' | 'closed' | 'reset' | 'timeout' | 'ended by node' | 'held open' | `dial-failed ${string}`

export interface Exchange {
  /** Frames (raw bytes) written one after another. */
  writes: Uint8Array[]
  /** Wait for the node's answer (or its close) after writing; default true. */
  read?: boolean
  /** Close our writing end before reading (the node sees the end of the stream at once); default true. */
  endWrite?: boolean
  /** Keep the stream open this long after writing without closing it (a stall), then abort it. */
  holdMs?: number
  signal: AbortSignal
}

/** Opens `protocol` on `peer`, writes `writes`, reads what comes back once, and ends the stream; never throws. */
export async function exchange (libp2p: Libp2p, peer: PeerId, protocol: string, ex: Exchange): Promise<Outcome> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, protocol, { signal: ex.signal })
  } catch (err) {
    return `dial-failed ${(err as Error).name}`
  }
  const bytes = byteStream(stream)
  let outcome: Outcome = 'closed'
  try {
    for (const w of ex.writes) await bytes.write(w, { signal: ex.signal })
    if (ex.holdMs != null) {
      // a stalled peer: it keeps the stream and says nothing more; did the node's read deadline end it first?
      const held = new Promise<Outcome>(resolve => { const t = setTimeout(() => { resolve('held open') }, ex.holdMs); ex.signal.addEventListener('abort', () => { clearTimeout(t); resolve('held open') }, { once: true }) })
      const ended = bytes.read({ signal: ex.signal }).then(() => 'ended by node' as const, () => 'ended by node' as const)
      outcome = await Promise.race([held, ended])
    } else if (ex.read !== false) {
      if (ex.endWrite !== false) await stream.close({ signal: ex.signal })
      const reply = await bytes.read({ signal: ex.signal })
      outcome = reply == null ? 'closed' : 'answered'
    }
  } catch (err) {
    outcome = ex.signal.aborted ? 'timeout' : (err as Error).name === 'StreamResetError' ? 'reset' : 'closed'
  }
  if (ex.holdMs != null) stream.abort(new Error('fuzz stall over'))
  else await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => { stream.abort(new Error('close failed')) })
  return outcome
}

/** A conversation: each step writes frames and may read a reply; ends on the first failure. */
export async function conversation (libp2p: Libp2p, peer: PeerId, protocol: string, steps: Array<{ writes: Uint8Array[], read: boolean }>, signal: AbortSignal): Promise<Outcome> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, protocol, { signal })
  } catch (err) {
    return `dial-failed ${(err as Error).name}`
  }
  const bytes = byteStream(stream)
  let outcome: Outcome = 'closed'
  try {
    for (const [i, step] of steps.entries()) {
      for (const w of step.writes) await bytes.write(w, { signal })
      // after the last writes the stream ends from our side, so the node is not left waiting for more
      if (i === steps.length - 1) await stream.close({ signal })
      if (step.read) {
        const reply = await bytes.read({ signal })
        if (reply == null) break
        outcome = 'answered'
      }
    }
  } catch (err) {
    outcome = signal.aborted ? 'timeout' : (err as Error).name === 'StreamResetError' ? 'reset' : 'closed'
  }
  await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => { stream.abort(new Error('close failed')) })
  return outcome
}
