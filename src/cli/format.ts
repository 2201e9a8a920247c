// C0 controls, DEL, C1 controls (U+009B is an 8-bit CSI) and bidi overrides/isolates: what lets gossiped text drive a terminal
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
// JSON.stringify escapes C0 already; these pass through it raw
const CONTROL_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

const escaped = (c: string): string => {
  const code = c.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `text` safe to print on a terminal: every control character (escape sequences, carriage returns,
 * bidi overrides) shown as a visible `\xNN` / `\uNNNN`. `keepLines` leaves newlines and tabs as they are.
 */
export function printable (text: string, options: { keepLines?: boolean } = {}): string {
  return text.replace(options.keepLines === true ? CONTROL_EXCEPT_LINES : CONTROL, escaped)
}

/** `JSON.stringify(value)` with the controls it leaves raw (DEL, C1, bidi) escaped too: still valid JSON, same value. */
export function printableJson (value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(CONTROL_IN_JSON, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** An aligned text table (the last column is not padded); every cell is made `printable`. */
export function formatTable (header: string[], rows: string[][]): string {
  const all = [header, ...rows].map(r => r.map(cell => printable(cell)))
  const widths = header.map((_, i) => Math.max(...all.map(r => (r[i] ?? '').length)))
  return all.map(r => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  ')).join('\n') + '\n'
}
