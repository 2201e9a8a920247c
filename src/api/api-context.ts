import type { AddonHost } from '../addons/host.ts'
import type { Logger } from '../logger.ts'
import type { ApiSettings } from './options.ts'
import type { LiveHub } from './live/hub.ts'
import type { StreamSlots } from './live/stream-slots.ts'
import type { CredentialStreams } from './auth/credential-streams.ts'
import type { ScheduleService } from '../schedules/service.ts'
import type { SubmitBudget } from '../tasks/submit-budget.ts'
import type { UnsentReplies } from '../transport/unsent-replies.ts'

/** What every route module of the API gets (a route module per concern: tasks, sessions, members, live, hooks, schedules; the dashboard later). */
export interface ApiContext {
  node: Pick<AddonHost, 'peerId' | 'members' | 'self' | 'tasks'>
  settings: ApiSettings
  live: LiveHub
  /** What each subject holds open through the API (by `apiSubmitter(subject)`): tasks (and their inputs), sessions. */
  budgets: { tasks: SubmitBudget, sessions: SubmitBudget }
  streams: StreamSlots
  /** The live streams client certificates and tokens opened, ended when their credential is revoked or expires. */
  credentials: CredentialStreams
  /** Answers carrying task values each subject has not read yet (held-reply.ts). */
  unsent: UnsentReplies
  schedules: ScheduleService
  log: Logger
}
