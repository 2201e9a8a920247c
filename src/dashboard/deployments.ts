import type { AddonHost } from '../addons/host.ts'
import { DeploymentStore } from '../deployments/store.ts'
import { DEPLOYMENTS_CHANNEL } from '../deployments/types.ts'

/** A pipeline deployment as the dashboard draws it. */
export interface DeploymentRow {
  name: string
  version: number
  /** `stopped`, `pending` (no report from its owner for this version yet), or the owner's run state. */
  state: string
  /** The holder of a lease still running, and its fencing token. */
  owner?: string
  token?: number
  stages: string[]
  /** Items each stage processed in the owner's current run. */
  processed: number[]
  error?: string
}

/** The grid's deployments from the deployments channel (opened on first use), with their owner and progress. */
export function deploymentRows (node: Partial<Pick<AddonHost, 'channel'>>, now = Date.now()): DeploymentRow[] {
  if (node.channel == null) return []
  let store: DeploymentStore
  try {
    store = new DeploymentStore(node.channel(DEPLOYMENTS_CHANNEL))
  } catch {
    // a stopping node, or one at its channel cap: the page shows no deployments rather than no page
    return []
  }
  return store.deployments().map(d => {
    const lease = store.lease(d.name)
    const progress = store.progress(d.name)
    const current = progress != null && progress.version === d.version ? progress : undefined
    return {
      name: d.name,
      version: d.version,
      state: d.stopped ? 'stopped' : current?.state ?? 'pending',
      ...(lease != null && lease.until > now ? { owner: lease.holder, token: lease.token } : {}),
      stages: d.stages.map(s => s.name),
      processed: current?.processed ?? [],
      ...(current?.error != null ? { error: current.error } : {})
    }
  })
}
