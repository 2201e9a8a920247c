import * as v from 'valibot'

/**
 * Hand-written checks for the two messages every item crosses (a batch of
 * items to an agent, a batch of results back), in front of their valibot
 * schemas. valibot's object check makes a dataset and an output object per
 * key and entry: on batches of up to a thousand tasks it was a visible share
 * of the agent's and the owner's work per task. A fast check accepts only
 * what the schema accepts, and returns what the schema would; anything else
 * (a malformed message, a rarer kind) goes to the schema, which decides and
 * words the error. So nothing from the network is used unchecked.
 */

/** What `fast` returns for a message it leaves to the schema. */
export const TO_SCHEMA = undefined

/** `schema`, with `fast` tried first: its output when it gives one, else the schema's verdict. */
export function withFastPath<S extends v.GenericSchema> (schema: S, fast: (value: unknown) => v.InferOutput<S> | undefined): v.GenericSchema<unknown, v.InferOutput<S>> {
  return v.pipe(v.unknown(), v.rawTransform<unknown, v.InferOutput<S>>(({ dataset, addIssue, NEVER }) => {
    const quick = fast(dataset.value)
    if (quick !== TO_SCHEMA) return quick
    const parsed = v.safeParse(schema, dataset.value, { abortPipeEarly: true })
    if (parsed.success) return parsed.output
    const issue = parsed.issues[0]
    addIssue({ message: `${v.getDotPath(issue) ?? ''} ${issue.message}`.trim() })
    return NEVER
  }))
}

/** An object valibot's `v.object` would look into (it takes any non-null object). */
export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/** An item's number: an integer from 0 to Number.MAX_SAFE_INTEGER (the schemas' `itemNumber`). */
export function isItemNumber (n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

export interface BatchItem { n: number, item: unknown, task?: true }

/** A batch's items as `{ n, item, task? }` objects (other keys dropped), or TO_SCHEMA if one is not such an item. */
export function batchItems (items: unknown, max: number): BatchItem[] | undefined {
  if (!Array.isArray(items) || items.length > max) return TO_SCHEMA
  const out: BatchItem[] = []
  for (const entry of items as unknown[]) {
    // no `item` key: the item is undefined (JSON has no value for it), as a result without `value`
    if (!isRecord(entry) || !isItemNumber(entry.n)) return TO_SCHEMA
    if (entry.task === true) out.push({ n: entry.n, item: entry.item, task: true })
    else if ('task' in entry) return TO_SCHEMA
    else out.push({ n: entry.n, item: entry.item })
  }
  return out
}

/** A value result `{ n, value? }` or a started notice `{ n, notice: 'started' }` as the schema outputs them; TO_SCHEMA for any other entry. */
export function valueOrStarted (entry: unknown): { n: number, value?: unknown } | { n: number, notice: 'started' } | undefined {
  if (!isRecord(entry) || 'error' in entry || !isItemNumber(entry.n)) return TO_SCHEMA
  if ('notice' in entry) return entry.notice === 'started' ? { n: entry.n, notice: 'started' } : TO_SCHEMA
  return 'value' in entry ? { n: entry.n, value: entry.value } : { n: entry.n }
}
