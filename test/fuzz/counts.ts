/** Messages sent per protocol or topic, and what came of them (answered, reset, closed, timeout…). */
export class Counts {
  private readonly rows = new Map<string, Map<string, number>>()

  add (label: string, outcome: string, n = 1): void {
    let row = this.rows.get(label)
    if (row == null) { row = new Map(); this.rows.set(label, row) }
    row.set(outcome, (row.get(outcome) ?? 0) + n)
  }

  /** Per label: the total and each outcome, sorted by label. */
  table (): Array<{ label: string, total: number, outcomes: Record<string, number> }> {
    return [...this.rows].sort(([a], [b]) => a.localeCompare(b)).map(([label, row]) => ({
      label,
      total: [...row.values()].reduce((a, b) => a + b, 0),
      outcomes: Object.fromEntries([...row].sort(([a], [b]) => a.localeCompare(b)))
    }))
  }

  total (): number {
    return this.table().reduce((n, r) => n + r.total, 0)
  }
}
