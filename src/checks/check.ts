import * as v from 'valibot'
import { ConfigError } from '../errors.ts'
import { abortSignal } from './values.ts'

type Piece = v.GenericSchema

/** The rule `value` breaks (the piece's message), or undefined when it passes. */
export function ruleBroken (piece: Piece, value: unknown): string | undefined {
  const result = v.safeParse(piece, value)
  return result.success ? undefined : result.issues[0].message
}

/** `value` if it passes `piece`; otherwise ConfigError naming `option`, the rule and the value given. */
export function checkOption<S extends Piece> (option: string, piece: S, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(piece, value)
  if (result.success) return result.output
  throw new ConfigError(option, `${result.issues[0].message}, got ${shown(value)}`)
}

export function shown (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

/** Like checkOption, for an option that may be left out: undefined stays undefined. */
export function checkOptional<S extends Piece> (option: string, piece: S, value: unknown): v.InferOutput<S> | undefined {
  return value == null ? undefined : checkOption(option, piece, value)
}

/** Every key of T, each `true`: typed against T, so a key added to T must be added to its list. */
export type KnownKeys<T> = { readonly [K in keyof Required<T>]: true }

/** ConfigError unless `value` is a plain object whose keys are all in `known` (a misspelt option is refused, not ignored). */
export function checkKnownKeys<T> (option: string, value: unknown, known: KnownKeys<T>, prefix = `${option}.`): asserts value is Record<string, unknown> & T {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(option, `must be an object of options, got ${shown(value)}`)
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(known, key)) throw new ConfigError(`${prefix}${key}`, `unknown option (known: ${Object.keys(known).join(', ')})`)
  }
}

/** What a call that only cancels takes: `GridNode.start(init, { signal })`, `node.use(addon, options, { signal })`, `result({ signal })`. */
export interface SignalOption { signal?: AbortSignal }

const SIGNAL_KEYS: KnownKeys<SignalOption> = { signal: true }

/** The signal of `options` (ConfigError for an unknown key, or a signal that is no AbortSignal: a JS caller's `{}` would fail only once listened to). */
export function checkSignalOption (option: string, options: unknown): AbortSignal | undefined {
  checkKnownKeys<SignalOption>(option, options, SIGNAL_KEYS)
  return checkOptional(`${option}.signal`, abortSignal, options.signal)
}
