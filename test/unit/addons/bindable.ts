import { createServer } from 'node:net'

/** Binds `port` on 127.0.0.1 (0: a free one) and lets it go: resolves with the port, or undefined if it is taken. */
export async function bindable (port: number): Promise<number | undefined> {
  return await new Promise(resolve => {
    const probe = createServer()
    probe.once('error', () => { resolve(undefined) })
    probe.listen(port, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => { resolve(typeof address === 'object' && address != null ? address.port : undefined) })
    })
  })
}
