/** One sample of Prometheus text: its name, labels and value. */
export interface Sample { name: string, labels: Record<string, string>, value: number }

/** Prometheus text format → samples (comments skipped). */
export function parse (text: string): Sample[] {
  return text.split('\n').filter(l => l !== '' && !l.startsWith('#')).map(line => {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m == null) throw new Error(`not a sample line: ${line}`)
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(x => [x[1]!, x[2]!]))
    return { name: m[1]!, labels, value: Number(m[3]) }
  })
}

/** The value of the first sample named `name` whose labels include `labels`. */
export const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

/** The sum of every sample named `name` whose labels include `labels` (a counter summed over the labels not given); 0 when none. */
export const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0)
