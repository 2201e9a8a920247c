import type { Principal, CertificateCredential } from './scopes.ts'
import { certificateRefusal } from './certificate.ts'
import type { CertificateRefusal } from './certificate.ts'

/** Node waits at most this long in one timer: a certificate valid longer is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Held {
  certificate: CertificateCredential
  end: (refusal: CertificateRefusal) => void
  timer?: ReturnType<typeof setTimeout>
}

/**
 * The WebSockets and event streams a client certificate opened: they outlive
 * the request that authenticated them, so each is ended when its certificate
 * stops being a credential — at once when the node takes a CRL that lists it
 * (`recheck`), or when it expires (a timer at its notAfter).
 */
export class CertifiedStreams {
  private readonly revoked: (serial: string) => boolean
  private readonly held = new Set<Held>()

  constructor (revoked: (serial: string) => boolean) {
    this.revoked = revoked
  }

  /** Why `principal` is no credential any more, if it came with a certificate that is not; a token's principal never (its expiry was checked at its request). */
  refusal (principal: Principal, now = Date.now()): CertificateRefusal | undefined {
    return principal.certificate == null ? undefined : certificateRefusal(principal.certificate, this.revoked, now)
  }

  /**
   * Calls `end` once when `principal`'s certificate is revoked or expires (at once, before returning, if it is
   * already); the returned release forgets the stream (when it ends on its own). Nothing for a token's principal.
   */
  hold (principal: Principal, end: (refusal: CertificateRefusal) => void): () => void {
    const certificate = principal.certificate
    if (certificate == null) return () => {}
    const refused = this.refusal(principal)
    if (refused != null) {
      end(refused)
      return () => {}
    }
    const held: Held = { certificate, end }
    this.held.add(held)
    this.armExpiry(held)
    return () => { this.forget(held) }
  }

  /** The node took a newer CRL: every stream whose certificate it lists ends now. */
  recheck (now = Date.now()): void {
    for (const held of [...this.held]) {
      const refused = certificateRefusal(held.certificate, this.revoked, now)
      if (refused != null) this.finish(held, refused)
    }
  }

  /** Forgets every stream without ending it (the server closes them itself). */
  close (): void {
    for (const held of this.held) clearTimeout(held.timer)
    this.held.clear()
  }

  private armExpiry (held: Held): void {
    // valid through its notAfter: expired from the millisecond after
    const delayMs = Math.min(Math.max(held.certificate.notAfter + 1 - Date.now(), 0), MAX_TIMER_MS)
    held.timer = setTimeout(() => {
      const refused = certificateRefusal(held.certificate, this.revoked, Date.now())
      if (refused != null) this.finish(held, refused)
      else this.armExpiry(held)
    }, delayMs)
    held.timer.unref()
  }

  private finish (held: Held, refused: CertificateRefusal): void {
    if (!this.held.has(held)) return
    this.forget(held)
    held.end(refused)
  }

  private forget (held: Held): void {
    clearTimeout(held.timer)
    this.held.delete(held)
  }
}
