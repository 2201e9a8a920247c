import type { Principal } from './auth/scopes.ts'
import { hasScope } from './auth/scopes.ts'
import { ForbiddenError } from '../errors.ts'

/**
 * Who submitted what through the API (task and session ids → token subject),
 * so `tasks:cancel` reaches only one's own; `admin` cancels anything. An entry
 * goes when its task or session is final: cancelling it then changes nothing.
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
