/**
 * Sends `items` in one message, or, when that throws at once (IPC's structured
 * clone refusing a value: a function, a symbol, a value nested past its stack),
 * one by one, so that only what cannot be sent fails: `unsendable` decides what
 * becomes of each such item. The rest leave as they are, in order.
 */
export function sendSplitting<T> (items: T[], send: (items: T[]) => void, unsendable: (item: T, err: unknown) => void): void {
  try {
    send(items)
  } catch (err) {
    if (items.length > 1) {
      for (const one of items) sendSplitting([one], send, unsendable)
      return
    }
    unsendable(items[0]!, err)
  }
}
