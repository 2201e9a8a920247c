import type { Redis } from 'ioredis'

/** The consumer group's upkeep: creating it, and again when Redis lost it. */

/** Where a group starts when it is created (also again, after Redis lost it): the stream's first entry. */
export const NEW_GROUP_ID = '0'

/** Creates the group (with the stream, if missing) at NEW_GROUP_ID; one that exists is left as it is. */
export async function ensureGroup (redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, NEW_GROUP_ID, 'MKSTREAM')
  } catch (err) {
    if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err
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
