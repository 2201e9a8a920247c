/**
 * `work`'s outcome, or the signal's reason as soon as `signal` aborts (whichever comes first). `work` goes on:
 * the caller undoes what it does once it settles. The listener never outlives the call.
 */
export async function untilAborted<T> (work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return await work
  signal.throwIfAborted()
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
