import { isIP } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidAddressError } from '../errors.ts'

const DIALABLE = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])

/**
 * A peer address as users type it: `host:port`, `[ipv6]:port`, or a multiaddr
 * (`/ip4/1.2.3.4/tcp/4100`, with or without `/p2p/<id>`).
 */
export function parsePeerAddress (input: string): Multiaddr {
  const text = input.trim()
  if (text === '') throw new InvalidAddressError(input, 'it is empty')
  if (text.startsWith('/')) return parseMultiaddr(input, text)
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text)
  if (match == null) throw new InvalidAddressError(input, 'expected host:port, [ipv6]:port or a multiaddr')
  const host = match[1] ?? match[2] ?? ''
  const port = parsePort(match[3] ?? '', input)
  const family = isIP(host)
  if (match[1] != null && family !== 6) throw new InvalidAddressError(input, `"${host}" in brackets is not an IPv6 address`)
  if (family === 0 && !isHostName(host)) throw new InvalidAddressError(input, `"${host}" is not a host name or IP address`)
  const proto = family === 4 ? 'ip4' : family === 6 ? 'ip6' : 'dns'
  return multiaddr(`/${proto}/${host}/tcp/${port}`)
}

/** RFC 1123 labels; an all-numeric dotted name is a mistyped IP, not a host. */
function isHostName (host: string): boolean {
  const labels = host.split('.')
  if (labels.every(l => /^\d+$/.test(l))) return false
  return labels.every(l => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))
}

function parseMultiaddr (input: string, text: string): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch (err) {
    throw new InvalidAddressError(input, (err as Error).message)
  }
  const names = ma.getComponents().map(c => c.name)
  if (!DIALABLE.has(names[0] ?? '') || names[1] !== 'tcp' || !(names.length === 2 || (names.length === 3 && names[2] === 'p2p'))) {
    throw new InvalidAddressError(input, 'a multiaddr must be /ip4, /ip6 or /dns, then /tcp/<port>, optionally /p2p/<id>')
  }
  parsePort(ma.getComponents()[1]?.value ?? '', input)
  return ma
}

/** A TCP port; `allowZero` for listening on a random port. */
export function parsePort (value: string | number, what: string, allowZero = false): number {
  const port = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new InvalidAddressError(what, `port must be an integer ${allowZero ? '0' : '1'}-65535, got "${value}"`)
  }
  return port
}

/** The listen multiaddr for a host and port. */
export function listenAddress (host: string, port: number): string {
  const family = isIP(host)
  if (family === 0) throw new InvalidAddressError(host, 'the listen host must be an IP address')
  return `/ip${family}/${host}/tcp/${port}`
}
