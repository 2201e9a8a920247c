import { describe, it, expect } from 'vitest'
import { PassThrough, Writable } from 'node:stream'
import { once } from 'node:events'
import { pino } from 'pino'
import { logWorkerOutput } from '../../../src/agent/worker-output.ts'

interface Line { level: number, msg: string, [key: string]: unknown }

/** A pino logger writing into `lines`, with the bindings the spawner gives a worker's output. */
function capture (): { lines: Line[], log: pino.Logger } {
  const lines: Line[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line); done() } })
  return { lines, log: pino({ level: 'info' }, sink).child({ worker: 'w-1', stage: 'resize' }) }
}

async function closed (...streams: PassThrough[]): Promise<void> {
  await Promise.all(streams.map(async s => { const done = once(s, 'close'); s.end(); await done }))
  await new Promise(resolve => setImmediate(resolve))
}

describe('logWorkerOutput: a worker\'s stdout and stderr as tagged lines of the agent\'s log', () => {
  it('stdout at info, stderr at warn, tagged with worker, stage and stream; the text is the message', async () => {
    const { lines, log } = capture()
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    logWorkerOutput(stdout, stderr, log)
    stdout.write('{"level":60,"msg":"forged"}\nhalf a ')
    stderr.write('\x1b[1mbold\x1b[0m warning\n')
    stdout.write('line\nlast without newline')
    await closed(stdout, stderr)
    const picked = lines.map(({ level, msg, worker, stage, stream }) => ({ level, msg, worker, stage, stream }))
    expect(picked).toEqual(expect.arrayContaining([
      { level: 30, msg: '{"level":60,"msg":"forged"}', worker: 'w-1', stage: 'resize', stream: 'stdout' },
      { level: 30, msg: 'half a line', worker: 'w-1', stage: 'resize', stream: 'stdout' },
      { level: 30, msg: 'last without newline', worker: 'w-1', stage: 'resize', stream: 'stdout' },
      { level: 40, msg: 'bold warning', worker: 'w-1', stage: 'resize', stream: 'stderr' }
    ]))
    expect(lines).toHaveLength(4)
  })

  it('over the rate: lines are dropped, counted over both streams, and the count logged once the pipes close', async () => {
    const { lines, log } = capture()
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    logWorkerOutput(stdout, stderr, log, { maxLineBytes: 64, linesPerSecond: 5 })
    stdout.write('o\n'.repeat(10))
    stderr.write('e\n'.repeat(10))
    await closed(stdout, stderr)
    expect(lines.filter(l => l.stream != null)).toHaveLength(5)
    expect(lines.filter(l => l.dropped != null)).toMatchObject([{ level: 40, dropped: 15, worker: 'w-1', stage: 'resize' }])
  })

  it('cuts a line at maxLineBytes and marks it', async () => {
    const { lines, log } = capture()
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    logWorkerOutput(stdout, stderr, log, { maxLineBytes: 8, linesPerSecond: 100 })
    stdout.write('0123456789abcdef\nshort\n')
    await closed(stdout, stderr)
    expect(lines.map(({ msg, cut }) => ({ msg, cut }))).toEqual([{ msg: '01234567', cut: true }, { msg: 'short', cut: undefined }])
  })
})
