import { ConfigError } from '../errors.ts'

/**
 * What to tell the user when the node could not listen. libp2p reports it as
 * `UnsupportedListenAddressesError` ("set `transportManager.faultTolerance` to NO_FATAL"),
 * advice meant for libp2p's own configuration: a port already taken (a node still running,
 * often the same one started twice) is a bad `port`, and says so. Other failures pass as they are.
 */
export function explainListenFailure (err: unknown, host: string, port: number): unknown {
  const message = (err as Error | undefined)?.message ?? ''
  if ((err as Error | undefined)?.name !== 'UnsupportedListenAddressesError') return err
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  if (message.includes('EADDRINUSE')) {
    return new ConfigError('port', `${where} is already in use: another process listens there (a grid node already running?); stop it or pick another port (--port)`, { cause: err })
  }
  if (message.includes('EACCES')) {
    return new ConfigError('port', `not allowed to listen on ${where} (a port below 1024 needs privileges): pick another port (--port)`, { cause: err })
  }
  if (message.includes('EADDRNOTAVAIL')) {
    return new ConfigError('host', `${host} is not an address of this machine: pick one of its addresses, or 0.0.0.0 (--host)`, { cause: err })
  }
  return err
}

/**
 * The same for one of the node's HTTP servers (metrics, dashboard, health, API), which get Node's own
 * error (`code` EADDRINUSE…): a port taken was a bare `listen EADDRINUSE` and exit 1, naming no option.
 * `what` names the server (`metrics`), as its port option does in the CLI (`--metrics`).
 */
export function explainServerListenFailure (err: unknown, what: string, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  if (code === 'EADDRINUSE') return new ConfigError(`${what} port`, `${where} is already in use: another process listens there; stop it or pick another port (--${what})`, { cause: err })
  if (code === 'EACCES') return new ConfigError(`${what} port`, `not allowed to listen on ${where} (a port below 1024 needs privileges): pick another port (--${what})`, { cause: err })
  if (code === 'EADDRNOTAVAIL') return new ConfigError(`${what} host`, `${host} is not an address of this machine: pick one of its addresses, or 0.0.0.0 (--${what}-host)`, { cause: err })
  return err
}
