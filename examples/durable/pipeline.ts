// A deployable pipeline definition: `grid pipeline deploy examples/durable/pipeline.ts --name orders
// --params '{"redis":"redis://127.0.0.1:6379","in":"orders","out":"orders-out"}' --peer <member>`.
// Any member may run it (its file is bundled and stored grid-wide): it imports nothing of gridd, the
// connectors come with the context each factory gets on the member that runs it.
import type { PipelineDefinition, DefinitionContext } from '../../src/index.ts'

interface Params { redis: string, in: string, out: string, group?: string }

function params (ctx: DefinitionContext): Params {
  const p = ctx.params as Partial<Params> | null
  if (typeof p?.redis !== 'string' || typeof p.in !== 'string' || typeof p.out !== 'string') throw new TypeError('params must be { redis, in, out }')
  return p as Params
}

const definition: PipelineDefinition = {
  // a consumer group on the input stream: this owner's name in it, and the idle time after which
  // entries a gone owner left pending are claimed, come from the context
  source: (ctx) => {
    const p = params(ctx)
    return ctx.connectors.redisStreamSource({ url: p.redis, stream: p.in, group: p.group ?? 'gridd', consumer: ctx.consumer, claimIdleMs: ctx.claimIdleMs, log: ctx.log })
  },
  // stage files beside this one (each is bundled at deploy time, with its own relative imports)
  stages: [
    { name: 'split', module: './split.ts', minWorkers: 1 },
    { name: 'price', module: './price.ts', minWorkers: 1 }
  ],
  // idempotent by item id: a replay after a takeover writes nothing twice
  sink: (ctx) => ctx.connectors.redisStreamSink({ url: params(ctx).redis, stream: params(ctx).out }),
  // an order that fails its attempts is written here (what failed, where, why) before its entry is acknowledged
  deadLetter: (ctx) => ctx.connectors.redisStreamSink({ url: params(ctx).redis, stream: `${params(ctx).out}:failed` })
}

export default definition
