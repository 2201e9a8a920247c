import { pino } from 'pino'
import type { Logger } from 'pino'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

/** pino JSON lines on stdout (stderr for commands that print results), pretty on a TTY. */
export function createCliLogger (level: string, toStderr = false): Logger {
  const fd = toStderr ? 2 : 1
  const tty = toStderr ? process.stderr.isTTY : process.stdout.isTTY
  if (tty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: fd, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } })
  }
  return pino({ level }, pino.destination({ fd, sync: false }))
}
