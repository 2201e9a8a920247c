import type { AddonTasks } from '../addons/host.ts'
import type { ApiContext } from './api-context.ts'
import { isApiSubmitter } from '../tasks/submitter.ts'
import { resumedInputBytes } from '../tasks/submit-budget.ts'

/**
 * Charges the API's budgets with what the node already holds open that came through the API: the tasks and
 * sessions a durable node resumed from its journal after a restart (the add-ons start after the tasks).
 * Else each restart would give a subject a fresh budget's worth more. Each lands on its journaled submitter
 * or opener (`api:<subject>`), the key fresh ones are taken under; kept even past a budget (they were
 * accepted), so that subject's next ones are refused until enough end, and released as each ends.
 * Called once, before the API answers anyone.
 */
export function holdResumed (tasks: Pick<AddonTasks, 'sessions'>, budgets: ApiContext['budgets']): void {
  for (const session of tasks.sessions()) {
    if (isApiSubmitter(session.opener) && !session.isDone) void session.done.then(budgets.sessions.hold(session.opener, 0))
    for (const task of session.openTasks()) {
      if (isApiSubmitter(task.submitter)) void task.settled.then(budgets.tasks.hold(task.submitter, resumedInputBytes(task.input)))
    }
  }
}
