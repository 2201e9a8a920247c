import type { Principal } from './auth/scopes.ts'
import { hasScope } from './auth/scopes.ts'
import { ForbiddenError } from '../errors.ts'

/**
 * Who opened each session through the API (session id → subject), so a client
 * sees (ownership.ts) and cancels only its own; `admin` cancels anything. An
 * entry goes when its session is done, as the session itself does. (A task
 * records its submitter itself: ownership.ts.)
 */
export class Submitters {
  private readonly bySubject = new Map<string, string>()

  /** Records `id` as `subject`'s until `settled` resolves. */
  record (id: string, subject: string, settled: Promise<unknown>): void {
    this.bySubject.set(id, subject)
    void settled.then(() => { this.bySubject.delete(id) })
  }

  submitter (id: string): string | undefined {
    return this.bySubject.get(id)
  }

  /** Throws ForbiddenError unless `principal` submitted `id` or is an admin (`action`: what it was about to do, for the refusal). */
  checkMayCancel (principal: Principal, id: string, final: boolean, action = 'cancel'): void {
    if (final || hasScope(principal, 'admin')) return
    if (this.bySubject.get(id) !== principal.subject) throw new ForbiddenError(`${id} was not submitted by ${principal.subject}: only its submitter or an admin may ${action} it`)
  }
}
