import { it, expectTypeOf } from 'vitest'
import type {
  GridNode, GridNodeConfig, GridNodeInit, DeploymentsInit, MembershipInit, Logger, StatusRequest, StatusReport, RejectedCount,
  TasksOverview, GridNodeListener, ProcessOptions, WorkerHandle
} from '../../src/index.ts'

// Checked by `tsc` (vitest strips types): every type a caller meets on GridNode's surface can be named from 'gridd'.
it('exports the types of what GridNode takes and returns', () => {
  expectTypeOf<GridNode['config']>().toEqualTypeOf<GridNodeConfig>()
  expectTypeOf<GridNode['log']>().toEqualTypeOf<Logger>()
  expectTypeOf<NonNullable<GridNodeInit['deployments']>>().toEqualTypeOf<DeploymentsInit>()
  expectTypeOf<GridNodeInit>().toExtend<MembershipInit>()
  expectTypeOf<Parameters<GridNode['status']>[0]>().toEqualTypeOf<StatusRequest | undefined>()
  expectTypeOf<ReturnType<GridNode['status']>>().toEqualTypeOf<StatusReport>()
  expectTypeOf<ReturnType<GridNode['rejectedMessages']>>().toEqualTypeOf<RejectedCount[]>()
  expectTypeOf<ReturnType<GridNode['tasksOverview']>>().toEqualTypeOf<TasksOverview>()
  expectTypeOf<GridNodeListener<'peer:connect'>>().parameters.toEqualTypeOf<[{ id: string, name?: string }]>()
  expectTypeOf<Parameters<WorkerHandle['process']>[1]>().toEqualTypeOf<ProcessOptions | undefined>()
})
