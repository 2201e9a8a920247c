export { rankAgents, placeOne, planPlacement, fitCount, lacks, utilizationAfter } from './rank.ts'
export type { AgentLoad, ResourceRequest, Shortfall } from './types.ts'
