export { rankAgents, placeOne, planPlacement, lacks, utilizationAfter } from './rank.ts'
export type { AgentLoad, ResourceRequest, Shortfall } from './types.ts'
