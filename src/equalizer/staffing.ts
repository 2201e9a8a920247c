/**
 * How many workers an offered load needs: the square-root staffing rule (Halfin and Whitt, 1981) with a
 * utilization cap. A stage offered a = λ / μ workers' worth of items gets at least a + β·√a workers, and
 * at least a / utilization. Arrivals are random: a flat utilization leaves one or two workers queueing for
 * most items (one worker 90 % busy under random arrivals keeps an item waiting 4.5 items' work on average,
 * M/D/1), while at ten workers the same 10 % headroom is a whole worker, and ample. Headroom of β·√a keeps
 * the chance an item waits about the same at every size, so a small stage gets relatively more, a large
 * one relatively less. On `bench:trace`'s daily trace with random arrivals (`--arrivals=poisson`) the
 * slowest items had come from its hours at 1 to 5 workers (README: the frontier).
 */
export const STAFFING_BETA = 0.5

/**
 * Workers for an offered load of `offered` workers' worth (λ / μ, backlog included): ⌈max(a / u, a + β√a)⌉.
 * `beta` 0 is the flat rule ⌈a / u⌉ alone.
 */
export function workersFor (offered: number, utilization: number, beta = STAFFING_BETA): number {
  if (!(offered > 0)) return 0
  // the epsilon keeps an exact fit (a = u·N) at N, where float rounding would ask for N + 1
  return Math.ceil(Math.max(offered / utilization, offered + beta * Math.sqrt(offered)) - 1e-9)
}
