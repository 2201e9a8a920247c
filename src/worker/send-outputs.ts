import type { WorkerOutput } from './ipc.ts'
import { toWireError } from '../wire/wire-error.ts'
import { NotSerializableError } from '../errors.ts'
import { sendSplitting } from '../wire/send-splitting.ts'

/**
 * Hands a batch of outputs to `send` (the worker's process.send). The IPC
 * channel is structured clone: a value holding a function or a symbol makes
 * it throw at once, inside the Batcher's setImmediate, which would end the
 * worker (uncaughtException) and lose every item of the batch and in flight.
 * So, as the agent does for items (LocalWorker.sendBatch), a batch that
 * throws goes again one output at a time: a result that cannot be sent
 * becomes that item's error (NotSerializableError), a progress value that cannot be sent is dropped
 * (the task's outcome still follows), and the rest leave as they are, in order.
 */
export function sendOutputs (outputs: WorkerOutput[], send: (outputs: WorkerOutput[]) => void): void {
  sendSplitting(outputs, send, (output, err) => {
    // only a result's or a progress notice's value can fail to clone (errors, starts and log lines are strings)
    if (!('value' in output) || 'notice' in output) return
    // the same error as a result JSON cannot encode for a remote owner: one code for one problem
    const unsendable = new NotSerializableError('the stage\'s result', err, 'cannot be sent back from the worker (it holds what structured clone cannot copy: a function, a symbol, a promise…)')
    send([{ id: output.id, error: toWireError(unsendable) }])
  })
}
