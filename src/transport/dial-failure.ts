/**
 * What a failed dial says about the address when the TCP connection was made but libp2p's negotiation
 * failed before the TLS handshake completed (before it began, or a reset during it): libp2p reports only
 * its parser's words ("Missing newline", "Unexpected EOF"), and the usual cause is a `--peer` given a
 * node's HTTP port. Read by the CLI's errors and the seed dialer's warnings, whose words (CLOSED_EARLY_TEXT)
 * must hold for both.
 */
export type NotAGridNode = 'answers-otherwise' | 'closed-early'

/** multistream-select read bytes that are not its own (an HTTP server's answer), or no encrypter of ours. */
const ANSWERS_OTHERWISE = /Missing newline|Protocol selection failed|message length|data length/i
/** The other side hung up before the negotiation ended (an HTTP server's short "400 Bad Request" read as a
 * length), or reset it: libp2p's bare "Encryption failed" is a reset whose error had no message. */
const CLOSED_EARLY = /Unexpected EOF|ECONNRESET|^Encryption failed$/

export function notAGridNode (err: unknown): NotAGridNode | undefined {
  const { name, message } = (err ?? {}) as { name?: unknown, message?: unknown }
  if (name !== 'EncryptionFailedError' || typeof message !== 'string') return undefined
  if (ANSWERS_OTHERWISE.test(message)) return 'answers-otherwise'
  if (CLOSED_EARLY.test(message)) return 'closed-early'
  return undefined
}

/** What 'closed-early' says happened: true whether the other side hung up before the TLS handshake or reset it midway. */
export const CLOSED_EARLY_TEXT = 'closed the connection before the TLS handshake completed'

/** The ports of a grid node that speak HTTP, not libp2p. */
export const HTTP_PORTS = 'its --api, --metrics, --health and --dashboard ports serve HTTP'
