import type { Redis } from 'ioredis'

/**
 * The consumer group's upkeep: creating it (again, when Redis lost it), and forgetting the consumers
 * that went away. Each owner reads under its own consumer name (a deployment's is its peer id, the
 * default `<hostname>-<pid>`): a pod restarted under a new one leaves its old name in the group for good.
 */

/**
 * Where a group starts when it is created, also again after Redis lost it: the stream's first entry. Again
 * too, because the group's pending list, the one record of what was read and never acknowledged, went
 * with it: entries other owners held (one that crashed, its entries not yet claimed) may lie anywhere
 * below this source's own, and a later start would skip them for good. What was acknowledged before the
 * loss is delivered again instead: the sink skips the ids it wrote (within its dedupeTtlS).
 */
export const NEW_GROUP_ID = '0'

/** The pause before creating a group lost again at once (something keeps destroying it): 0, then 50 ms doubling to 1 s. */
export function regroupDelayMs (attempt: number): number {
  return attempt === 0 ? 0 : Math.min(50 * 2 ** Math.min(attempt - 1, 10), 1000)
}

/** Consumers idle this many × max(claimIdleMs, blockMs), with nothing pending, are removed from the group. */
export const FORGET_IDLE_FACTOR = 10

/** Consumers removed per pass at most: a group that gathered thousands is worked down a pass at a time. */
export const MAX_FORGOTTEN_PER_PASS = 100

/** Creates the group (with the stream, if missing) at NEW_GROUP_ID; one that exists is left as it is. True when it created it. */
export async function ensureGroup (redis: Redis, stream: string, group: string): Promise<boolean> {
  try {
    await redis.xgroup('CREATE', stream, group, NEW_GROUP_ID, 'MKSTREAM')
    return true
  } catch (err) {
    if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err
    return false
  }
}

/**
 * The group is gone from Redis: restarted without its data, FLUSHALL, the stream deleted or the group
 * destroyed. `NOGROUP` answers a command on it; `UNBLOCKED … no longer exists` a read blocked when its stream went.
 */
export function groupLost (err: unknown): boolean {
  const message = String((err as Error | undefined)?.message)
  return message.startsWith('NOGROUP') || (message.startsWith('UNBLOCKED') && message.includes('no longer exists'))
}

/**
 * Removes consumers idle longer than ARGV[3] ms with no entry pending, at most ARGV[4] of them, never
 * ARGV[2] (the caller). One script, so nothing is read or claimed by a consumer between the check and
 * its removal: XGROUP DELCONSUMER drops the entries a consumer holds, which would then never be read
 * again. A consumer removed that reads again is created again by its read.
 * KEYS: the stream; ARGV: group, own consumer, min idle ms, max removals. Returns the names removed.
 */
const FORGET_IDLE_CONSUMERS = `
local removed = {}
local minIdle = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info.name ~= ARGV[2] and info.pending == 0 and type(info.idle) == 'number' and info.idle > minIdle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info.name)
    removed[#removed + 1] = info.name
    if #removed >= limit then break end
  end
end
return removed
`

type WithForget = Redis & { forgetIdleConsumers: (stream: string, group: string, own: string, minIdleMs: number, limit: number) => Promise<unknown> }

/** Defines the script's command on `redis`; returns the pass to run after each complete claim (XAUTOCLAIM) pass. */
export function idleConsumerSweep (redis: Redis, stream: string, group: string, own: string, minIdleMs: number): () => Promise<string[]> {
  redis.defineCommand('forgetIdleConsumers', { numberOfKeys: 1, lua: FORGET_IDLE_CONSUMERS })
  return async () => {
    const removed = await (redis as WithForget).forgetIdleConsumers(stream, group, own, minIdleMs, MAX_FORGOTTEN_PER_PASS)
    if (!Array.isArray(removed) || !removed.every(name => typeof name === 'string')) throw new TypeError('forgetting idle consumers: unexpected reply shape')
    return removed as string[]
  }
}
