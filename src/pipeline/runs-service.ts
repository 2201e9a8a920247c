import type { Service } from '../lifecycle/service.ts'
import type { PipelineRun } from './run.ts'

/**
 * The node's pipeline runs as one of its parts: stopping cancels every run and waits for each to end,
 * since a cancelled run still closes its connectors (a durable source's last acknowledgements, a
 * sink's flush); destroying only cancels them.
 */
export function runsService (runs: ReadonlySet<PipelineRun>): Service {
  const cancel = (): PipelineRun[] => {
    const cancelled = [...runs]
    for (const run of cancelled) run.cancel()
    return cancelled
  }
  return {
    name: 'pipelines',
    stop: async () => { await Promise.allSettled(cancel().map(async run => await run.done)) },
    destroy: () => { cancel() }
  }
}
