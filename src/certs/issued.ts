import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as v from 'valibot'
import { CertificateError } from '../errors.ts'
import { writeFileAtomic } from '../trust/write-file.ts'
import { withFileLock } from './file-lock.ts'
import { CA_KEY_DIR } from './files.ts'

/**
 * Beside the CA key (`<certs>/ca/issued.json`, mode 0600): every certificate the
 * join service signed, so `grid certs revoke <name>` finds the serial of a
 * certificate whose file only the joined machine has.
 */
export const ISSUED_FILE = 'issued.json'
const ISSUED_LOCK_FILE = 'issued.lock'
/** Records kept: the oldest go first (a certificate lives 825 days by default; by then most have been reissued). */
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
  readonly path: string
  private readonly lockPath: string
  private queue: Promise<unknown> = Promise.resolve()

  constructor (caKeyDir: string) {
    this.path = join(caKeyDir, ISSUED_FILE)
    this.lockPath = join(caKeyDir, ISSUED_LOCK_FILE)
  }

  async list (): Promise<IssuedRecord[]> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    let parsed
    try {
      parsed = v.safeParse(file, JSON.parse(text))
    } catch (err) {
      throw new CertificateError(`${this.path} is not JSON`, { cause: err })
    }
    if (!parsed.success) throw new CertificateError(`${this.path} is not a record of issued certificates: ${parsed.issues[0].message}`)
    return parsed.output.issued
  }

  async add (issued: IssuedRecord): Promise<void> {
    const run = this.queue.then(async () => await withFileLock(this.lockPath, async () => {
      const kept = [...await this.list(), issued].slice(-MAX_ISSUED)
      await writeFileAtomic(this.path, JSON.stringify({ v: 1, issued: kept }) + '\n', 0o600)
    }))
    this.queue = run.catch(() => {})
    await run
  }
}

/**
 * The certificates recorded for `target` (a name or a peer id) in the CA-key
 * directories of `certsDir`: `ca/` (grid certs init), or `certsDir` itself (a CA key beside ca.crt).
 */
export async function issuedTo (certsDir: string, target: string): Promise<IssuedRecord[]> {
  const found: IssuedRecord[] = []
  for (const dir of [join(certsDir, CA_KEY_DIR), certsDir]) {
    for (const issued of await new IssuedLog(dir).list()) if (issued.name === target || issued.peerId === target) found.push(issued)
  }
  return found
}
