export { PipelineRun } from './run.ts'
export type { PipelineRunEvents } from './run.ts'
export type { PipelineInit, StageSpec, PipelineSummary, StageStats, FailedItem, Pressure, UnplaceableStage } from './types.ts'
