export { PipelineRun } from './run.ts'
export type { PipelineRunEvents } from './run.ts'
export type { PipelineInit, StageSpec, PipelineSummary, StageSummary, StageStats, FailedItem, Pressure, UnplaceableStage } from './types.ts'
