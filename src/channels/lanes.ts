/**
 * At most `width` tasks per key at once; the rest wait their turn in order. The snapshot
 * exchanges of one peer go through it, so a node opens no more sync streams to a peer than
 * that peer admits (its handler's maxInboundStreams): the extra ones would be reset.
 */
export class Lanes {
  private readonly width: number
  private readonly busy = new Map<string, number>()
  private readonly waiting = new Map<string, Array<() => void>>()

  constructor (width: number) {
    this.width = width
  }

  async run<T> (key: string, task: () => Promise<T>): Promise<T> {
    await this.enter(key)
    try {
      return await task()
    } finally {
      this.leave(key)
    }
  }

  private async enter (key: string): Promise<void> {
    const busy = this.busy.get(key) ?? 0
    if (busy < this.width) {
      this.busy.set(key, busy + 1)
      return
    }
    // the task that leaves hands its lane over: `busy` stays as it is
    await new Promise<void>(resolve => {
      const queue = this.waiting.get(key) ?? []
      queue.push(resolve)
      this.waiting.set(key, queue)
    })
  }

  private leave (key: string): void {
    const queue = this.waiting.get(key)
    const next = queue?.shift()
    if (queue?.length === 0) this.waiting.delete(key)
    if (next != null) {
      next()
      return
    }
    const busy = (this.busy.get(key) ?? 1) - 1
    if (busy === 0) this.busy.delete(key)
    else this.busy.set(key, busy)
  }
}
