import { describe, it, expect } from 'vitest'
import { afterError } from '../../../src/pipeline/item-retry.ts'
import type { Envelope } from '../../../src/pipeline/types.ts'
import { EXCUSED_LOSSES } from '../../../src/owner/worker-handle.ts'
import { AgentLostError, StageSetupError, WorkerStoppedError } from '../../../src/errors.ts'

/** What happens to an item each time, as the stage runner sees it: its attempt counted on send, then afterError. */
function lose (envelope: Envelope, err: Error, times: number): Array<string | undefined> {
  const fates: Array<string | undefined> = []
  for (let i = 0; i < times; i++) {
    envelope.attempts++
    const failure = afterError(envelope, err, 3)
    fates.push(failure?.name)
    if (failure != null) break
  }
  return fates
}

/**
 * A stopped worker cannot say who sent its SIGTERM: seen with real processes, an item whose stage SIGTERMs
 * its own worker ran on worker after worker for ever, never failed as poison.
 */
describe('afterError: lost workers excused a few times, then counted as crashes', () => {
  it.each([
    { name: 'a worker stopped (a SIGTERM)', err: new WorkerStoppedError('w', 'by SIGTERM (a stop request; code null signal SIGTERM)') },
    { name: 'its agent lost', err: new AgentLostError('agent', 'it left the grid') }
  ])('$name over and over: the item ends as a poison item', ({ err }) => {
    const envelope: Envelope = { id: '1', value: 1, attempts: 0, crashes: 0 }
    const fates = lose(envelope, err, 20)
    // excused, then two crashes: the first makes it run alone, the second names it
    expect(fates).toEqual([...Array(EXCUSED_LOSSES + 1).fill(undefined), 'PoisonItemError'])
    expect(envelope.isolate).toBe(true)
  })

  it('a few such losses use nothing: the item keeps its attempts and is no suspect', () => {
    const envelope: Envelope = { id: '1', value: 1, attempts: 0, crashes: 0 }
    expect(lose(envelope, new WorkerStoppedError('w', 'by its agent (code 0 signal null)'), EXCUSED_LOSSES)).toEqual(Array(EXCUSED_LOSSES).fill(undefined))
    expect([envelope.attempts, envelope.crashes, envelope.isolate]).toEqual([0, 0, undefined])
  })

  it('workers that fail their setup are not counted here (three in a row fail the run)', () => {
    const envelope: Envelope = { id: '1', value: 1, attempts: 0, crashes: 0 }
    expect(lose(envelope, new StageSetupError('w', 'code 1 signal null'), 10)).toEqual(Array(10).fill(undefined))
    expect(envelope.crashes).toBe(0)
  })
})
