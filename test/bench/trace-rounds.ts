/**
 * Which policies bench:trace runs side by side. Each goal compares two policies whose p99s may differ by
 * a few ms, while one run's p99 is set by a few machine-wide stalls of tens of ms (every process on a
 * 2-core machine waits at once). Run one after the other, the stalls land on whichever policy runs then:
 * the daily trace's defaults-vs-baseline ratio ranged 0.77–1.34× over single runs and 0.96–1.09× over
 * 3 runs each, pooled. Run side by side, on the same agent from the same instant, every stall lands on
 * both, and the ratio measures the policies: the full run of fbb17ab gave 1.00, 1.01 and 1.01×, and such
 * rounds still told apart changes of 3–4 % (a smaller credit window, a lower utilization target).
 */
export interface Named { name: string }

/** The pairs a goal compares, [policy, yardstick]: run side by side `repeat` times each. */
export const GOAL_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['equalizer', 'target-tracking'],
  ['equalizer+objective', 'static-peak']
]

/**
 * A trace's rounds, each a set of policies run side by side: every goal pair (both chosen) `repeat` times,
 * the pairs' rounds alternating (a slow drift of the machine favours no pair) and each pair's order
 * flipping from round to round (the first started sends its items and asks for pre-started hosts first),
 * then the other policies two at a time, so that every policy runs beside another where it can.
 */
export function rounds<P extends Named> (chosen: P[], repeat: number): P[][] {
  const pairs = GOAL_PAIRS.map(names => chosen.filter(p => names.includes(p.name))).filter(pair => pair.length === 2)
  const out: P[][] = []
  for (let round = 0; round < repeat; round++) out.push(...pairs.map(pair => round % 2 === 1 ? [...pair].reverse() : pair))
  const rest = chosen.filter(p => !pairs.some(pair => pair.includes(p)))
  for (let i = 0; i < rest.length; i += 2) out.push(rest.slice(i, i + 2))
  return out
}
