import type { MemberRecord } from './table-record.ts'

/**
 * The member table's rows by id. Once forked (`fork`), two tables share the
 * rows as they were, read-only, and each copies a row the first time it
 * asks for it to change it (`get`): thousands of tables forked from one
 * converged table (the simulator's grid) hold one copy of what they agree
 * on and their own copy of the few rows each has touched. A table never
 * forked is a plain Map.
 */
export class TableRows {
  private own = new Map<string, MemberRecord>()
  /** Rows shared with other tables, never changed in place. */
  private shared?: ReadonlyMap<string, MemberRecord>
  /** Shared ids this table has removed. */
  private dropped = new Set<string>()
  private count = 0

  get size (): number {
    return this.count
  }

  /** The row to read and change: this table's own, copied from the shared rows on first use. */
  get (id: string): MemberRecord | undefined {
    const mine = this.own.get(id)
    if (mine != null || this.shared == null) return mine
    const common = this.sharedRow(id)
    if (common == null) return undefined
    const copy = { ...common }
    if (common.confirmations != null) copy.confirmations = new Set(common.confirmations)
    this.own.set(id, copy)
    return copy
  }

  /** The row to read only (never to change): a shared row is not copied. */
  peek (id: string): Readonly<MemberRecord> | undefined {
    return this.own.get(id) ?? this.sharedRow(id)
  }

  set (id: string, rec: MemberRecord): void {
    if (this.peek(id) == null) this.count++
    this.own.set(id, rec)
  }

  delete (id: string): void {
    if (this.peek(id) == null) return
    this.count--
    this.own.delete(id)
    if (this.shared?.has(id) === true) this.dropped.add(id)
  }

  /** Every row, to read only. */
  * values (): IterableIterator<Readonly<MemberRecord>> {
    yield * this.own.values()
    if (this.shared == null) return
    for (const [id, rec] of this.shared) if (!this.own.has(id) && !this.dropped.has(id)) yield rec
  }

  /** Rows for another table: from now on both share what is here and copy what they change. */
  fork (): TableRows {
    // unchanged since the last fork (a converged table forked for every node): the same rows again
    const unchanged = this.own.size === 0 && this.dropped.size === 0
    const shared = this.shared == null ? this.own : unchanged ? this.shared : new Map([...this.values()].map(rec => [rec.entry.id, rec]))
    this.own = new Map()
    this.shared = shared
    this.dropped = new Set()
    const other = new TableRows()
    other.shared = shared
    other.count = this.count
    return other
  }

  private sharedRow (id: string): MemberRecord | undefined {
    return this.dropped.has(id) ? undefined : this.shared?.get(id)
  }
}
