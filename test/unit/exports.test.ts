import { it, expect, expectTypeOf } from 'vitest'
import * as gridd from '../../src/index.ts'
import type {
  GridNode, GridNodeConfig, GridNodeInit, DeploymentsInit, MembershipInit, Logger, StatusRequest, StatusReport, RejectedCount,
  TasksOverview, GridNodeListener, ProcessOptions, WorkerHandle, AddonContext, AddonHost, AddonHandleOptions, AddonTasks, HealthOptions,
  Addon, RefusedCount, SignalOption, TaskHandle, TaskHandleEvents, TaskInfo, FailedItem, WireError, PipelineSummary, StageSummary,
  StageStats, Pressure, Session, TaskDefaults, Role
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

// README names each of these; an app could reach none from 'gridd' (package.json exports only the root).
it('exports what README names and what the public surface returns: healthAddon, AddonHost and the types of fields', () => {
  // README lists it among the built-in add-ons an app may use (node.use(healthAddon, { port, alone }))
  expect(gridd.healthAddon).toMatchObject({ name: 'health' })
  expectTypeOf(gridd.healthAddon).toEqualTypeOf<Addon<HealthOptions>>()
  // "ctx is the add-on's narrow view of the node (AddonHost, not the GridNode itself)"
  expectTypeOf<AddonContext>().toExtend<AddonHost>()
  expectTypeOf<AddonHost['tasks']>().toEqualTypeOf<AddonTasks>()
  expectTypeOf<NonNullable<Parameters<AddonContext['handle']>[3]>>().toEqualTypeOf<AddonHandleOptions>()
  // a certificate's roles, as an add-on's protocol admits them and issueCertificate grants them
  expectTypeOf<NonNullable<AddonHandleOptions['roles']>>().toEqualTypeOf<readonly Role[]>()
  expectTypeOf<ReturnType<GridNode['refusedConnections']>>().toEqualTypeOf<RefusedCount[]>()
  expectTypeOf<Parameters<typeof gridd.GridNode.start>[1]>().toEqualTypeOf<SignalOption | undefined>()
  expectTypeOf<Parameters<TaskHandle['on']>[0]>().toEqualTypeOf<keyof TaskHandleEvents>()
  expectTypeOf<NonNullable<TaskInfo['error']>>().toEqualTypeOf<WireError>()
  expectTypeOf<FailedItem['error']>().toEqualTypeOf<WireError>()
  expectTypeOf<PipelineSummary['stages']>().toEqualTypeOf<StageSummary[]>()
  expectTypeOf<StageStats['pressure']>().toEqualTypeOf<Pressure>()
  expectTypeOf<Session['defaults']>().toEqualTypeOf<TaskDefaults>()
})
