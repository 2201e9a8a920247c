import { connect, createServer } from 'node:net'

/** A port the OS just handed out on 127.0.0.1 (closed again, so the caller can bind it). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

/** Whether nothing listens on `port` at 127.0.0.1 (we could bind it). */
export async function isPortFree (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => server.close(() => { resolve(true) }))
  })
}

/** Waits until `port` can be bound again (a killed process's listener is gone), or fails after `timeoutMs`. */
export async function waitPortFree (port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await isPortFree(port)) {
    if (Date.now() > deadline) throw new Error(`port ${port} still in use after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Resolves with the error code of a TCP connect to `port` on 127.0.0.1 ('connected' if something listens). */
export async function connectOutcome (port: number): Promise<string> {
  return await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
  })
}
