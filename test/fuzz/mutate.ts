import type { Rng } from './rng.ts'

/** A JSON value (what every gridd protocol carries). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Numbers at the edges: the largest safe integer and past it, -0, the largest double, the smallest subnormal. */
export const EXTREME_NUMBERS: readonly number[] = [
  Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 64, -0, 1e308, -1e308, 5e-324,
  0, -1, 0.5, 2 ** 31, 2 ** 32, 0xffff, 0x10000, 1e21
]

/** Strings that break naive code: numbers spelled out (JSON has no NaN), control characters, prototype keys, paths. */
export const STRANGE_STRINGS: readonly string[] = [
  'NaN', 'Infinity', '-Infinity', '-0', '1e308', '', '\u0000', '\u001b[2J\u001b[31mred\u0007', '__proto__', 'constructor',
  'toString', '../../../../etc/passwd', '%s%s%n', '\ud800', 'not-a-peer-id', 'notapeerxd', 'w-000000000000',
  '/ip4/127.0.0.1/tcp/1', `/dns4/${'a'.repeat(300)}/tcp/1`, '🙂'.repeat(40)
]

/** Peer ids to forge with: the real members' ids (other nodes', a real origin) and well-formed strangers. */
export interface Forgeries {
  ids: readonly string[]
}

/** A random JSON value, `depth` levels deep at most. */
export function randomJson (rng: Rng, depth = 3): Json {
  switch (rng.int(depth > 0 ? 8 : 5)) {
    case 0: return null
    case 1: return rng.chance(0.5)
    case 2: return rng.pick(EXTREME_NUMBERS)
    case 3: return rng.pick(STRANGE_STRINGS)
    case 4: return rng.int(1000)
    case 5: return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1))
    case 6: return Object.fromEntries(Array.from({ length: rng.int(5) }, () => [rng.pick(['v', 'op', 'type', 'id', 'members', 'entries', 'channel', 'x']), randomJson(rng, depth - 1)]))
    default: return 'x'.repeat(rng.pick([1, 64, 257, 4097]))
  }
}

/** A value nested `depth` arrays deep (parsers and JSON.stringify may recurse). */
export function deeplyNested (depth: number): Json {
  let value: Json = 0
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

type Path = Array<string | number>

/** Places to mutate: every value down to a depth of 16 (a nested value from an earlier mutation is not walked), at most 2000. */
function paths (value: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at)
  if (out.length > 2000 || at.length >= 16) return out
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out))
  else if (value != null && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out)
  return out
}

function get (value: Json, path: Path): Json {
  let v: Json = value
  for (const p of path) v = (v as Record<string | number, Json>)[p]!
  return v
}

/** A value of another type than `old`, keeping the shape-level surprise small. */
function wrongType (rng: Rng, old: Json): Json {
  if (typeof old === 'number') return rng.pick([String(old), [old], { n: old }, null, true])
  if (typeof old === 'string') return rng.pick([0, [old], null, false, { s: old }])
  if (typeof old === 'boolean') return rng.pick(['true', 1, 0, null])
  if (Array.isArray(old)) return rng.pick([{}, 'list', 0, null])
  if (old != null && typeof old === 'object') return rng.pick([[], 'object', 0, null])
  return rng.pick([0, '', [], {}])
}

/**
 * One change at a random place in `value` (which it changes in place; the root may be replaced: use the
 * result). `grown` says the change made the message large (a long array, string or nesting): the caller
 * stops there, so growths never multiply into a message of hundreds of MB.
 */
function mutateOnce (rng: Rng, value: Json, forge: Forgeries): { value: Json, grown: boolean } {
  const all = paths(value)
  const path = rng.pick(all)
  const old = get(value, path)
  let next: Json | undefined
  const kind = rng.int(10)
  const grown = kind === 6 || kind === 8 || kind === 9
  switch (kind) {
    case 0: next = rng.pick(EXTREME_NUMBERS); break
    case 1: next = rng.pick(STRANGE_STRINGS); break
    case 2: next = wrongType(rng, old); break
    case 3: next = undefined; break // delete
    case 4: next = rng.pick(forge.ids); break
    case 5: next = randomJson(rng); break
    // one element repeated (the same object: JSON writes it out each time)
    case 6: next = Array.isArray(old) && old.length > 0 ? Array.from({ length: rng.pick([65, 300, 5000]) }, () => old[0]!) : old; break
    case 7: next = typeof old === 'number' ? rng.pick([old + 1, old - 1, old * 1e6, -old, old + 0.5]) : old; break
    case 8: next = typeof old === 'string' ? old + 'x'.repeat(rng.pick([1, 200, 70_000])) : old; break
    default: next = deeplyNested(rng.pick([50, 2000])); break
  }
  if (path.length === 0) return { value: next ?? null, grown }
  const parent = get(value, path.slice(0, -1)) as Record<string | number, Json> | Json[]
  const key = path.at(-1)!
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1)
    else delete parent[key as string]
  } else if (!Array.isArray(parent) && rng.chance(0.1)) {
    // an extra field beside the real ones
    parent[rng.pick(['extra', '__proto__', 'constructor', 'then'])] = next
  } else {
    (parent as Record<string | number, Json>)[key] = next
  }
  return { value, grown }
}

/** A copy of a valid message with 1–3 changes: close enough to pass the first checks, wrong somewhere deeper. */
export function mutateJson (rng: Rng, valid: Json, forge: Forgeries): Json {
  let value = structuredClone(valid)
  const times = 1 + rng.int(3)
  for (let i = 0; i < times; i++) {
    const result = mutateOnce(rng, value, forge)
    value = result.value
    if (result.grown) break
  }
  return value
}

/**
 * JSON text broken at the character level: cut short, a byte flipped, keys doubled, a NaN literal, trailing
 * garbage, or a value replaced by arrays nested 100,000 deep (valid JSON that a recursive stringify cannot
 * take; built as text, since this process could not stringify it either).
 */
export function mutateText (rng: Rng, text: string): string {
  switch (rng.int(7)) {
    case 6: {
      const at = text.lastIndexOf(':')
      if (at < 0) return text
      const end = text.slice(at + 1).search(/[,}]/)
      if (end < 0) return text
      return `${text.slice(0, at + 1)}${'['.repeat(100_000)}0${']'.repeat(100_000)}${text.slice(at + 1 + end)}`
    }
    case 0: return text.slice(0, rng.int(text.length))
    case 1: {
      const at = rng.int(text.length)
      return text.slice(0, at) + String.fromCharCode(rng.int(256)) + text.slice(at + 1)
    }
    case 2: return text.startsWith('{') ? `{"__proto__":{"polluted":true},${text.slice(1)}` : text
    case 3: return text.replace(/:\s*(-?\d+(\.\d+)?)/, ':NaN')
    case 4: return `${text}}}]]garbage`
    default: return text.startsWith('{') && text.length > 2 ? `${text.slice(0, -1)},${text.slice(1)}` : text
  }
}
