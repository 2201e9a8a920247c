import { isIP } from 'node:net'

/**
 * The DNS-rebinding guard of the built-in HTTP servers: a page on a hostile
 * name that resolves to this machine sends that name in Host (and Origin).
 * Accepted: IP literals (a rebinding needs a name), `localhost` and
 * `*.localhost`, and the names in `allowed` (lower case).
 */
export function hostAllowed (host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (host == null || host === '') return false
  let name: string
  try {
    name = new URL(`http://${host}`).hostname
  } catch {
    return false
  }
  name = name.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (isIP(name) !== 0) return true
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  return allowed.has(name)
}

/** A browser's Origin header, if any, must name an accepted host too (`null`, an opaque origin, is refused). */
export function originAllowed (origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (origin == null) return true
  try {
    return hostAllowed(new URL(origin).host, allowed)
  } catch {
    return false
  }
}
