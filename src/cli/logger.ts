import { pino } from 'pino'
import type { Logger } from 'pino'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

/**
 * pino JSON lines on stdout (stderr for commands that print results), pretty on a TTY.
 * Pretty printing runs in this process as a plain stream, not as a pino transport: a
 * transport is a worker thread (more memory) whose worker file a bundle cannot resolve.
 */
export async function createCliLogger (level: string, toStderr = false): Promise<Logger> {
  const fd = toStderr ? 2 : 1
  const tty = toStderr ? process.stderr.isTTY : process.stdout.isTTY
  if (tty) {
    const { default: pinoPretty } = await import('pino-pretty')
    // synchronous: a person is reading, and no line may be lost when the process exits
    return pino({ level }, pinoPretty({ destination: fd, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  return pino({ level }, pino.destination({ fd, sync: false }))
}
