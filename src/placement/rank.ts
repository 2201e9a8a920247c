import type { AgentLoad, ResourceRequest, Shortfall } from './types.ts'
import type { Strategy } from '../checks/values.ts'
// requests are checked against the bounds the spawn protocol applies: one placement accepts, the agent can read
import { checkResources } from '../checks/resources.ts'
import { NoCapacityError } from '../errors.ts'

const EPSILON = 1e-9

/** What `agent` lacks to take `request` (empty: it fits). */
export function lacks (request: ResourceRequest, agent: Pick<AgentLoad, 'capacity' | 'maxWorkers' | 'used'>): string[] {
  const out: string[] = []
  const freeCpu = agent.capacity.cpu - agent.used.cpu
  const freeMemory = agent.capacity.memoryMb - agent.used.memoryMb
  if (agent.used.workers + 1 > agent.maxWorkers) out.push(`workers: ${agent.used.workers}/${agent.maxWorkers} in use`)
  if (request.cpu > freeCpu + EPSILON) out.push(`cpu: needs ${request.cpu}, has ${round(freeCpu)} free`)
  if (request.memoryMb > freeMemory + EPSILON) out.push(`memory: needs ${request.memoryMb} MB, has ${round(freeMemory)} MB free`)
  return out
}

/** The largest used fraction of CPU slots, memory and worker slots once `request` is placed. */
export function utilizationAfter (request: ResourceRequest, agent: AgentLoad): number {
  const fractions = [
    agent.capacity.cpu > 0 ? (agent.used.cpu + request.cpu) / agent.capacity.cpu : 1,
    agent.maxWorkers > 0 ? (agent.used.workers + 1) / agent.maxWorkers : 1
  ]
  if (agent.capacity.memoryMb > 0) fractions.push((agent.used.memoryMb + request.memoryMb) / agent.capacity.memoryMb)
  return Math.max(...fractions)
}

/**
 * One ascending sort key per agent, so that a larger |weight| attracts more work either way.
 * A horizontal agent scores its burden, utilization after placing / |weight| (the least
 * burdened first: spread, a weight-2 agent taking twice the share); a vertical one
 * -(utilization × |weight|) (the fullest that still fits first: pack, a heavier agent packed
 * sooner — with burden, a heavier agent looked emptier and was packed last), so agents that
 * ask to be packed fill before spreading starts elsewhere. A negative weight flips the agent's
 * strategy; weight 0 agents come after every weighted one ("only if nothing else fits").
 * Ties: peer id.
 */
function sortKey (request: ResourceRequest, agent: AgentLoad, strategy: Strategy | undefined): [number, number, string] {
  const own = strategy ?? agent.strategy
  const effective = agent.weight < 0 ? (own === 'horizontal' ? 'vertical' : 'horizontal') : own
  const utilization = utilizationAfter(request, agent)
  const magnitude = agent.weight === 0 ? 1 : Math.abs(agent.weight)
  return [agent.weight === 0 ? 1 : 0, effective === 'horizontal' ? utilization / magnitude : -utilization * magnitude, agent.id]
}

/**
 * Every agent that fits, in preference order (callers try the next when the
 * chosen agent refuses), and what each of the others lacks. `strategy`
 * overrides every agent's own; by default each agent's gossiped one applies.
 */
export function rankAgents (request: ResourceRequest, agents: AgentLoad[], strategy?: Strategy): { ranked: AgentLoad[], shortfalls: Shortfall[] } {
  checkResources('resources', request)
  const shortfalls: Shortfall[] = []
  const fitting: Array<{ agent: AgentLoad, key: [number, number, string] }> = []
  for (const agent of agents) {
    const missing = lacks(request, agent)
    if (missing.length > 0) shortfalls.push({ agentId: agent.id, lacks: missing })
    else fitting.push({ agent, key: sortKey(request, agent, strategy) })
  }
  fitting.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || (a.key[2] < b.key[2] ? -1 : a.key[2] > b.key[2] ? 1 : 0))
  return { ranked: fitting.map(f => f.agent), shortfalls }
}

/** The best agent for one worker, or NoCapacityError listing what each agent lacked. */
export function placeOne (request: ResourceRequest, agents: AgentLoad[], strategy?: Strategy): AgentLoad {
  const { ranked, shortfalls } = rankAgents(request, agents, strategy)
  const best = ranked[0]
  if (best == null) throw new NoCapacityError(shortfalls)
  return best
}

/** Places `count` workers one at a time, each seeing the ones before it; returns agent ids in order. */
export function planPlacement (request: ResourceRequest, agents: AgentLoad[], count: number, strategy?: Strategy): string[] {
  const state = agents.map(a => ({ ...a, used: { ...a.used } }))
  const plan: string[] = []
  for (let i = 0; i < count; i++) {
    const chosen = placeOne(request, state, strategy)
    chosen.used.cpu += request.cpu
    chosen.used.memoryMb += request.memoryMb
    chosen.used.workers += 1
    plan.push(chosen.id)
  }
  return plan
}

/** How many more workers like `request` the agents can take in all (at most `limit`): the equalizer's capacity clamp. */
export function fitCount (request: ResourceRequest, agents: AgentLoad[], limit = Number.POSITIVE_INFINITY): number {
  checkResources('resources', request)
  let total = 0
  for (const agent of agents) {
    const bounds = [agent.maxWorkers - agent.used.workers]
    if (request.cpu > 0) bounds.push(Math.floor((agent.capacity.cpu - agent.used.cpu + EPSILON) / request.cpu))
    if (request.memoryMb > 0) bounds.push(Math.floor((agent.capacity.memoryMb - agent.used.memoryMb + EPSILON) / request.memoryMb))
    total += Math.max(0, Math.min(...bounds))
    if (total >= limit) return limit
  }
  return total
}


function round (n: number): number {
  return Math.round(n * 100) / 100
}
