import { X509Certificate } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import { issuedIn } from './issued.ts'
import type { CrlEntry } from '../trust/crl-parse.ts'
import { normalizeSerial } from '../transport/mtls/verify.ts'
import { writeFileAtomic } from '../trust/write-file.ts'

/**
 * Beside crl.pem: each revoked certificate's notAfter, where the revoker knew it,
 * so a later CRL can leave out the entries of certificates that have expired
 * (a CRL is capped at 1 MiB, about 28,000 entries: kept for ever, routine
 * revocations would fill it). A CRL entry holds only a serial and a date.
 */
export const CRL_EXPIRY_FILE = 'crl-expiry.json'

/**
 * How long past its notAfter a revoked certificate stays listed. Every node
 * refuses an expired certificate by its own clock: one whose clock lags the
 * revoker's would still take it for that long, so the entry must outlive the
 * certificate by more than any lag a grid may see (a VM resumed from a stale
 * snapshot, a machine without NTP for months). A week costs little: with the
 * default 825-day certificates it keeps entries about 1 % longer.
 */
export const EXPIRED_ENTRY_GRACE_MS = 7 * 24 * 60 * 60 * 1000

const serialHex = v.pipe(v.string(), v.regex(/^[0-9a-f]{1,42}$/))
const file = v.object({ v: v.literal(1), notAfter: v.record(serialHex, v.number()) })

/**
 * What is known of the expiry of revoked certificates in a certificates
 * directory: the expiry file, then the record of certificates issued to
 * joined nodes and the certificate files in it signed by `ca` (so an entry
 * revoked by serial, or before this file existed, is known when its
 * certificate is). A missing or unreadable expiry file is taken as empty:
 * an entry whose expiry is unknown is kept, and a revocation is never held up
 * by this bookkeeping.
 */
export async function knownExpiry (dir: string, ca: X509Certificate): Promise<Map<string, number>> {
  const known = new Map<string, number>()
  for (const issued of await issuedIn(dir).catch(() => [])) known.set(issued.serial, issued.notAfter)
  for (const [serial, notAfter] of await certificateFiles(dir, ca)) known.set(serial, notAfter)
  for (const [serial, notAfter] of Object.entries(await readExpiryFile(dir))) known.set(serial, notAfter)
  return known
}

/**
 * `entries` without those whose certificate is known to have expired more than the grace period before `now`.
 * A notAfter that is not a number (a date that did not parse) proves nothing: kept.
 */
export function withoutExpired (entries: readonly CrlEntry[], expiry: ReadonlyMap<string, number>, now: Date): CrlEntry[] {
  return entries.filter(e => {
    const notAfter = expiry.get(e.serial)
    return notAfter == null || !Number.isFinite(notAfter) || notAfter + EXPIRED_ENTRY_GRACE_MS > now.getTime()
  })
}

/** Writes the known expiry of `entries` (those of the CRL about to be written; no others, so the file stays as small as the CRL). */
export async function writeExpiryFile (dir: string, entries: readonly CrlEntry[], expiry: ReadonlyMap<string, number>, beforeRename?: () => Promise<void>): Promise<void> {
  const notAfter: Record<string, number> = {}
  for (const { serial } of entries) {
    const known = expiry.get(serial)
    if (known != null) notAfter[serial] = known
  }
  await writeFileAtomic(join(dir, CRL_EXPIRY_FILE), JSON.stringify({ v: 1, notAfter }) + '\n', 0o644, beforeRename)
}

async function readExpiryFile (dir: string): Promise<Record<string, number>> {
  try {
    const parsed = v.safeParse(file, JSON.parse(await readFile(join(dir, CRL_EXPIRY_FILE), 'utf8')))
    return parsed.success ? parsed.output.notAfter : {}
  } catch {
    return {}
  }
}

/** Serial → notAfter of each `*.crt` in `dir` that `ca` signed (ca.crt and anything unreadable aside). */
async function certificateFiles (dir: string, ca: X509Certificate): Promise<Map<string, number>> {
  const found = new Map<string, number>()
  const names = await readdir(dir).catch(() => [])
  for (const name of names) {
    if (!name.endsWith('.crt') || name === 'ca.crt') continue
    try {
      const cert = new X509Certificate(await readFile(join(dir, name)))
      // a serial names a certificate only under its issuer
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) found.set(normalizeSerial(cert.serialNumber), Date.parse(cert.validTo))
    } catch {
      // not a certificate: nothing known from it
    }
  }
  return found
}
