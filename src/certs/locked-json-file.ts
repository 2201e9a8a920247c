import { readFile } from 'node:fs/promises'
import * as v from 'valibot'
import { writeFileAtomic } from '../trust/write-file.ts'
import { withFileLock } from './file-lock.ts'

/**
 * A JSON file beside the CA key (the join tokens, the certificates issued), read
 * whole at every use and changed by read-modify-write under a lock file shared
 * with other processes (an issuer, `grid certs` commands), replaced by
 * write-then-rename with mode 0600. Within one process a queue orders the
 * changes, sparing its own callers the lock file's polling.
 */
export class LockedJsonFile<T> {
  readonly path: string
  private readonly lockPath: string
  private readonly schema: v.GenericSchema<unknown, T>
  private readonly invalid: (reason: string, cause?: unknown) => Error
  private queue: Promise<unknown> = Promise.resolve()

  /** `invalid` makes the error, of the caller's class, for a file that is not JSON or not of `schema` (`reason` says which). */
  constructor (path: string, lockPath: string, schema: v.GenericSchema<unknown, T>, invalid: (reason: string, cause?: unknown) => Error) {
    this.path = path
    this.lockPath = lockPath
    this.schema = schema
    this.invalid = invalid
  }

  /** The file's content, or undefined when there is no file. */
  async read (): Promise<T | undefined> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw this.invalid('not JSON', err)
    }
    const parsed = v.safeParse(this.schema, json)
    if (!parsed.success) throw this.invalid(parsed.issues[0].message)
    return parsed.output
  }

  /** Reads, lets `change` decide (`write`: the new content, if any) and writes, all under the lock; resolves with `result`. */
  async update<R> (change: (current: T | undefined) => { write?: T, result: R }): Promise<R> {
    const run = this.queue.then(async () => await withFileLock(this.lockPath, async lock => {
      const { write, result } = change(await this.read())
      // not written if the lock was taken over meanwhile: `write` came from what was read before
      if (write !== undefined) await writeFileAtomic(this.path, JSON.stringify(write, null, 2) + '\n', 0o600, lock.assertHeld)
      return result
    }))
    this.queue = run.catch(() => {})
    return await run
  }
}
