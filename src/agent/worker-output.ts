import type { Readable } from 'node:stream'
import type { Logger } from '../logger.ts'
import { LineBudget, LineSplitter, cleanLine } from './output-lines.ts'

/** Longest worker output line logged; the rest of a longer one is cut (and the line marked `cut: true`). */
export const MAX_OUTPUT_LINE_BYTES = 16 * 1024
/** Lines a worker may have logged per second, stdout and stderr together; the rest are counted and dropped. */
export const OUTPUT_LINES_PER_SECOND = 100

export interface WorkerOutputLimits {
  maxLineBytes: number
  linesPerSecond: number
}

const DEFAULT_LIMITS: WorkerOutputLimits = { maxLineBytes: MAX_OUTPUT_LINE_BYTES, linesPerSecond: OUTPUT_LINES_PER_SECOND }

/**
 * Turns a worker's stdout and stderr into the agent's log lines: each line of
 * output is one structured line (`log` carries `worker` and `stage`; this adds
 * `stream`), stdout at info and stderr at warn, its text the message. Whatever
 * a stage prints (a forged JSON log line, escape sequences) stays inside one
 * message. Both pipes are always read to the end, so a worker never blocks on
 * a full pipe, whatever it writes and however fast.
 */
export function logWorkerOutput (stdout: Readable, stderr: Readable, log: Pick<Logger, 'info' | 'warn' | 'debug'>, limits: WorkerOutputLimits = DEFAULT_LIMITS): void {
  const budget = new LineBudget(limits.linesPerSecond, dropped => {
    log.warn({ dropped, linesPerSecond: limits.linesPerSecond }, 'worker output over its rate: lines dropped')
  })
  let open = 2
  for (const [stream, name] of [[stdout, 'stdout'], [stderr, 'stderr']] as const) {
    const splitter = new LineSplitter(limits.maxLineBytes, (line, cut) => {
      if (!budget.take()) return
      const fields = cut ? { stream: name, cut } : { stream: name }
      if (name === 'stdout') log.info(fields, cleanLine(line))
      else log.warn(fields, cleanLine(line))
    })
    stream.on('data', (chunk: Buffer) => { splitter.push(chunk) })
    // 'close' comes after 'end', and also after an error that ends the pipe early
    stream.once('close', () => {
      splitter.end()
      if (--open === 0) budget.flush()
    })
    // a read error on a pipe to a dying child: nothing to log it to but the log
    stream.on('error', err => { log.debug({ err, stream: name }, 'worker output pipe failed') })
  }
}
