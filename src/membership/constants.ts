import { MAX_MEMBERS } from '../checks/values.ts'

export const SYNC_PROTOCOL = '/gridd/members/sync/1.0.0'
/** A watcher's ping to a member it watches, answered with the member's incarnation: for members without the beat protocol. */
export const PING_PROTOCOL = '/gridd/members/ping/1.0.0'
/** A watcher's line on which the member it watches beats, unasked, every period the watcher asked for. */
export const BEAT_PROTOCOL = '/gridd/members/beat/1.0.0'
export const MEMBERS_TOPIC = 'gridd/members/1'
/**
 * How long closing a beat or ping line may wait for what is still queued on it to go. Unbounded, a peer that
 * stops reading its connection (no drain ever comes) held the closing side, its stream and its handler, until
 * the connection closed; then the stream is reset.
 */
export const LINE_CLOSE_TIMEOUT_MS = 5000

/** A heartbeat carries one entry plus bounded gossip lists: 64 KiB is generous. */
export const MAX_HEARTBEAT_BYTES = 64 * 1024
/**
 * Incarnations are wall-clock ms (a member's start, or a refutation's time):
 * one further ahead of this node's clock than this is forged (or a clock far
 * off), and refused, so no one can push an incarnation to where a refutation
 * overflows the schema.
 */
export const MAX_INCARNATION_AHEAD_MS = 10 * 60_000
export const DEFAULT_MAX_MEMBERS = 4096
/** The largest `maxMembers` accepted; a sync message carries at most one more entry (the sender). */
export const MAX_MEMBERS_LIMIT = MAX_MEMBERS
/** A full table for a large grid. */
export const MAX_SYNC_BYTES = 4 * 1024 * 1024
/** Gossip lists (suspects, hears) are capped so payloads cannot grow with churn. */
export const MAX_GOSSIP_ENTRIES = 256

export const DEFAULT_HEARTBEAT_MS = 1000
export const DEFAULT_RECONNECT_FOR_MS = 24 * 60 * 60 * 1000
export const DEFAULT_RECONNECT_MAX_BACKOFF_MS = 10_000
export const DEFAULT_MAX_MESH_PEERS = 64
export const DEFAULT_FORGET_LEFT_AFTER_MS = 60_000
/**
 * Each member is watched by this many others (its ring predecessors). Two, not three: the pings
 * were two thirds of an idle node's messages, and a second watcher already confirms a suspicion
 * (Lifeguard) or reports the member live against a false one; a process that is gone is failed by
 * any peer whose redial is refused, watcher or not.
 */
export const DEFAULT_MONITORS = 2
