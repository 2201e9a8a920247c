/**
 * SIGINT/SIGTERM stop gracefully; a second signal exits at once.
 * Only the CLI installs signal handlers: the library stays embeddable.
 */
export function onShutdownSignal (stop: (signal: string) => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1)
    stopping = true
    stop(signal).then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`grid: error while stopping: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}
