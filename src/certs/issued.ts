import { join } from 'node:path'
import * as v from 'valibot'
import { CertificateError } from '../errors.ts'
import { LockedJsonFile } from './locked-json-file.ts'
import { CA_KEY_DIR } from './files.ts'

/**
 * Beside the CA key (`<certs>/ca/issued.json`, mode 0600): every certificate the
 * join service signed, so `grid certs revoke <name>` finds the serial of a
 * certificate whose file only the joined machine has.
 */
export const ISSUED_FILE = 'issued.json'
const ISSUED_LOCK_FILE = 'issued.lock'
/** Records kept: those of expired certificates go first (nothing left to revoke), then the oldest (a certificate lives 825 days by default). */
export const MAX_ISSUED = 10_000

const record = v.object({
  serial: v.pipe(v.string(), v.regex(/^[0-9a-f]{1,40}$/)),
  name: v.pipe(v.string(), v.maxLength(64)),
  peerId: v.pipe(v.string(), v.maxLength(128)),
  /** The join token it was issued for. */
  token: v.pipe(v.string(), v.maxLength(64)),
  issuedAt: v.number(),
  notAfter: v.number()
})
const file = v.object({ v: v.literal(1), issued: v.array(record) })

export type IssuedRecord = v.InferOutput<typeof record>

/** The issued-certificates record of a CA-key directory; each change is a read-modify-write under a lock shared with other processes. */
export class IssuedLog {
  private readonly file: LockedJsonFile<v.InferOutput<typeof file>>

  constructor (caKeyDir: string) {
    this.file = new LockedJsonFile(join(caKeyDir, ISSUED_FILE), join(caKeyDir, ISSUED_LOCK_FILE), file, (reason, cause) => new CertificateError(`${join(caKeyDir, ISSUED_FILE)} is not a record of issued certificates: ${reason}`, { cause }))
  }

  get path (): string {
    return this.file.path
  }

  async list (): Promise<IssuedRecord[]> {
    return (await this.file.read())?.issued ?? []
  }

  async add (issued: IssuedRecord, now = Date.now()): Promise<void> {
    // an expired certificate is refused anyway: its record would only push out one still in use
    await this.file.update(current => ({ write: { v: 1 as const, issued: [...(current?.issued ?? []).filter(r => r.notAfter > now), issued].slice(-MAX_ISSUED) }, result: undefined }))
  }
}

/**
 * The certificates recorded for `target` (a name or a peer id) in the CA-key
 * directories of `certsDir`: `ca/` (grid certs init), or `certsDir` itself (a CA key beside ca.crt).
 */
export async function issuedTo (certsDir: string, target: string): Promise<IssuedRecord[]> {
  return (await issuedIn(certsDir)).filter(issued => issued.name === target || issued.peerId === target)
}

/** Every certificate recorded in the CA-key directories of `certsDir` (see issuedTo). */
export async function issuedIn (certsDir: string): Promise<IssuedRecord[]> {
  const found: IssuedRecord[] = []
  for (const dir of [join(certsDir, CA_KEY_DIR), certsDir]) found.push(...await new IssuedLog(dir).list())
  return found
}
