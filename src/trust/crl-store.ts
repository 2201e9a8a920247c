import { EventEmitter } from 'node:events'
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { crlDerFromPem, crlPemFromDer, verifyCrl } from './crl-parse.ts'
import type { VerifiedCrl } from './crl-parse.ts'
import { writeFileAtomic } from './write-file.ts'
import type { Logger } from '../logger.ts'

/** What became of an offered CRL that verified. */
export type CrlOutcome = 'accepted' | 'not-newer'

export interface CrlStoreEvents {
  /** A newer CRL replaced the one held; `from` is the peer it came from (undefined: loaded locally). */
  update: [crl: VerifiedCrl, from: string | undefined]
}

/**
 * The newest CRL this node holds: every offered CRL is verified against the
 * grid CA, kept only if its CRL number is larger than the one held (so an
 * old CRL replayed by anyone changes nothing), and written to the data dir,
 * from where the next start loads it.
 */
export class CrlStore extends EventEmitter<CrlStoreEvents> {
  private readonly ca: X509Certificate
  private readonly log?: Logger
  private held?: VerifiedCrl
  private revoked: ReadonlySet<string> = new Set()
  private file?: string
  private writing: Promise<void> = Promise.resolve()

  constructor (caPem: string, log?: Logger) {
    super()
    this.ca = new X509Certificate(caPem)
    this.log = log?.child({ component: 'revocation' })
  }

  /** The CRL held, if any. */
  get current (): VerifiedCrl | undefined {
    return this.held
  }

  /** Whether a certificate serial (normalized hex) is revoked by the CRL held. */
  isRevoked (serial: string): boolean {
    return this.revoked.has(serial)
  }

  /** Verifies a DER CRL (throws CrlError if it does not) and keeps it if it is newer than the one held. */
  offer (der: Uint8Array, from?: string): CrlOutcome {
    const crl = verifyCrl(der, this.ca)
    if (this.held != null && crl.number <= this.held.number) return 'not-newer'
    this.held = crl
    this.revoked = new Set(crl.entries.map(e => e.serial))
    this.log?.info({ number: crl.number.toString(), revoked: crl.entries.length, from }, 'certificate revocation list updated')
    this.persist()
    this.emit('update', crl, from)
    return 'accepted'
  }

  /** The same, for PEM text (`grid node --crl FILE`). */
  offerPem (pem: string, from?: string): CrlOutcome {
    return this.offer(crlDerFromPem(pem), from)
  }

  /**
   * Keeps the CRL in `file` from now on, after loading the one already there
   * (one that no longer verifies, e.g. from a previous CA, is logged and ignored).
   */
  async load (file: string): Promise<void> {
    this.file = file
    const pem = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.log?.warn({ err, file }, 'cannot read the stored revocation list')
      return undefined
    })
    let outcome: CrlOutcome | undefined
    if (pem != null) {
      try {
        outcome = this.offerPem(pem)
      } catch (err) {
        this.log?.warn({ err, file }, 'ignored the stored revocation list: it does not verify against the grid CA')
      }
    }
    // a CRL given at start (--crl) that is newer than the stored one is stored now
    if (this.held != null && outcome !== 'accepted') this.persist()
  }

  /** Resolves when every write begun so far has finished. */
  async flush (): Promise<void> {
    await this.writing
  }

  private persist (): void {
    const file = this.file
    const crl = this.held
    if (file == null || crl == null) return
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(file), { recursive: true })
      await writeFileAtomic(file, crlPemFromDer(crl.der), 0o644)
    }).catch((err: unknown) => { this.log?.warn({ err, file }, 'cannot store the revocation list') })
  }
}
