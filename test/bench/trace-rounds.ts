/**
 * Which policies bench:trace runs side by side. Each goal compares two policies whose p99s may differ by
 * a few ms, while one run's p99 is set by a few machine-wide stalls of tens of ms (every process on a
 * 2-core machine waits at once). Run one after the other, the stalls land on whichever policy runs then:
 * the daily trace's defaults-vs-baseline ratio ranged 0.77–1.34× over single runs and 0.96–1.09× over
 * 3 runs each, pooled. Run side by side, on the same agent from the same instant, every stall lands on
 * both, and the ratio measures the policies: 3 such rounds gave 1.00, 1.00 and 0.97×, and the same
 * rounds still told apart changes of 3–4 % (a smaller credit window, a lower utilization target).
 */
export interface Named { name: string }

/** The pairs a goal compares, [policy, yardstick]: run side by side `repeat` times each. */
export const GOAL_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['equalizer', 'target-tracking'],
  ['equalizer+objective', 'static-peak']
]

/**
 * A trace's rounds, each a set of policies run side by side: every goal pair `repeat` times, the pairs'
 * rounds alternating (a slow drift of the machine favours no pair), then the other policies two at a
 * time, so that every policy runs beside another, under the same load as the rest.
 */
export function rounds<P extends Named> (chosen: P[], repeat: number): P[][] {
  const pairs = GOAL_PAIRS.map(names => chosen.filter(p => names.includes(p.name))).filter(pair => pair.length > 0)
  const out: P[][] = []
  for (let round = 0; round < repeat; round++) out.push(...pairs)
  const rest = chosen.filter(p => !pairs.some(pair => pair.includes(p)))
  for (let i = 0; i < rest.length; i += 2) out.push(rest.slice(i, i + 2))
  return out
}
