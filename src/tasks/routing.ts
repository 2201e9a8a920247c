import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { requestJson } from '../transport/json-stream.ts'
import { MAX_REPLY_BYTES, TASKS_PROTOCOL, tasksReplySchema } from './protocol-schema.ts'
import type { TasksReply, TasksRequest } from './protocol-schema.ts'
import type { PeerReadBudget } from '../transport/read-budget.ts'

/**
 * How a member reaches the owner an id names: by peer id, at the addresses
 * membership knows for it (a member may be known by gossip before any
 * connection to it exists). The reply is schema-checked before it is relayed, and read within `budget`
 * (its length charged before its body is buffered).
 */
export function ownerForwarder (libp2p: Libp2p, membership: { teachAddresses: (id: string) => Promise<void> }) {
  return async (owner: string, request: TasksRequest, signal: AbortSignal, budget: PeerReadBudget): Promise<TasksReply> => {
    const peer = peerIdFromString(owner)
    await membership.teachAddresses(owner)
    return await requestJson(libp2p, peer, TASKS_PROTOCOL, request, tasksReplySchema, { signal, maxBytes: MAX_REPLY_BYTES, budget })
  }
}
