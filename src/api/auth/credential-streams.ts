import type { CredentialRefusal, Principal } from './scopes.ts'
import { certificateRefusal } from './certificate.ts'
import { tokenRefusal } from './jwt.ts'

/** Node waits at most this long in one timer: a credential valid longer is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Held {
  principal: Principal
  /** The last millisecond its credential is valid (a certificate's notAfter, a token's `exp` and skew). */
  validThrough: number
  end: (refusal: CredentialRefusal) => void
  timer?: ReturnType<typeof setTimeout>
}

/**
 * The WebSockets and event streams a client certificate or a bearer token
 * opened: they outlive the request that authenticated them, so each is ended
 * when its credential stops being one — a certificate at once when the node
 * takes a CRL that lists it (`recheck`), and either when it expires (a timer
 * at the certificate's notAfter, or the token's `exp` plus the clock skew the
 * verifier allows, when a request with it is refused too).
 */
export class CredentialStreams {
  private readonly revoked: (serial: string) => boolean
  private readonly held = new Set<Held>()

  constructor (revoked: (serial: string) => boolean) {
    this.revoked = revoked
  }

  /** Why `principal` is no credential any more, if its certificate or token is not; a principal with neither (a peer, a webhook) never. */
  refusal (principal: Principal, now = Date.now()): CredentialRefusal | undefined {
    if (principal.certificate != null) return certificateRefusal(principal.certificate, this.revoked, now)
    if (principal.token != null) return tokenRefusal(principal.token, now)
    return undefined
  }

  /**
   * Calls `end` once when `principal`'s certificate is revoked or its certificate or token expires (at once, before
   * returning, if it is already); the returned release forgets the stream (when it ends on its own).
   */
  hold (principal: Principal, end: (refusal: CredentialRefusal) => void): () => void {
    const validThrough = principal.certificate?.notAfter ?? principal.token?.validThrough
    if (validThrough == null) return () => {}
    const refused = this.refusal(principal)
    if (refused != null) {
      end(refused)
      return () => {}
    }
    const held: Held = { principal, validThrough, end }
    this.held.add(held)
    this.armExpiry(held)
    return () => { this.forget(held) }
  }

  /** The node took a newer CRL: every stream whose certificate it lists ends now. */
  recheck (now = Date.now()): void {
    for (const held of [...this.held]) {
      const refused = this.refusal(held.principal, now)
      if (refused != null) this.finish(held, refused)
    }
  }

  /** Forgets every stream without ending it (the server closes them itself). */
  close (): void {
    for (const held of this.held) clearTimeout(held.timer)
    this.held.clear()
  }

  private armExpiry (held: Held): void {
    // valid through validThrough: expired from the millisecond after
    const delayMs = Math.min(Math.max(held.validThrough + 1 - Date.now(), 0), MAX_TIMER_MS)
    held.timer = setTimeout(() => {
      const refused = this.refusal(held.principal)
      if (refused != null) this.finish(held, refused)
      else this.armExpiry(held)
    }, delayMs)
    held.timer.unref()
  }

  private finish (held: Held, refused: CredentialRefusal): void {
    if (!this.held.has(held)) return
    this.forget(held)
    held.end(refused)
  }

  private forget (held: Held): void {
    clearTimeout(held.timer)
    this.held.delete(held)
  }
}
