import * as v from 'valibot'

/**
 * Who may act for a keyed job (fire a schedule's ticks, run a deployment), and
 * since when: `(from, until]` by time, disjoint between holders.
 */
export interface Lease {
  holder: string
  /** Fencing token: one more than the lease (or fenced record) it replaced. */
  token: number
  from: number
  until: number
}

/**
 * What the holder wrote under its token as it acted (a schedule's latest fired
 * tick, a deployment's run start): a holder whose token is below it is fenced.
 */
export interface FiredRecord {
  tick: number
  token: number
  holder: string
}

const finite = v.pipe(v.number(), v.finite())
const token = v.pipe(v.number(), v.integer(), v.minValue(0))
export const leaseSchema = v.object({ holder: v.string(), token, from: finite, until: finite })
export const firedSchema = v.object({ tick: finite, token, holder: v.string() })
