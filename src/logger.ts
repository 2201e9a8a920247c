import { pino } from 'pino'
import type { Logger } from 'pino'

export type { Logger }

/** The host's logger, or a silent one: an embedded library says nothing unless asked. */
export function resolveLogger (logger?: Logger): Logger {
  return logger ?? pino({ level: 'silent' })
}
