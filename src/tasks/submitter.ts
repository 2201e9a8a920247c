/**
 * What the HTTP API add-on puts before a caller's subject to make the submitter of a task (and the opener
 * of a session) it takes: `api:<subject>`, apart from the peer ids the tasks protocol records (base58: never
 * a ':'). Kept here, not in src/api, because the tasks protocol tells them apart too: what the API took is
 * on the API's budgets, never on a protocol peer's.
 */
export const API_SUBMITTER_PREFIX = 'api:'

/** Whether `who` (a task's submitter, a session's opener) came through the HTTP API. */
export function isApiSubmitter (who: string | undefined): who is string {
  return who?.startsWith(API_SUBMITTER_PREFIX) === true
}
