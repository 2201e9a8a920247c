/**
 * A queue as an array with a moving head: `shift()` on a large array copies it
 * (V8 cannot trim arrays in large-object space), so draining a fan-out of
 * 300,000 items one by one took 9 s of copying; here each shift is O(1). Items
 * go in one at a time: `push(...items)` passes each as an argument, and a
 * fan-out of ~150,000 overflowed the stack.
 */
export class Fifo<T> {
  private items: Array<T | undefined> = []
  private head = 0

  get length (): number {
    return this.items.length - this.head
  }

  /** The first item, left in place. */
  peek (): T | undefined {
    return this.items[this.head]
  }

  push (item: T): void {
    this.items.push(item)
  }

  /** At the front (an item given back goes before new work). */
  unshift (item: T): void {
    if (this.head > 0) this.items[--this.head] = item
    else this.items.unshift(item)
  }

  shift (): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      // compact now and then, so a long-lived queue does not keep a long dead prefix
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Everything queued, in order; the queue is left empty. */
  takeAll (): T[] {
    const all = this.items.slice(this.head) as T[]
    this.items = []
    this.head = 0
    return all
  }
}
