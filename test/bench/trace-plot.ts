/**
 * bench:trace's frontier as an SVG (docs/bench-trace.svg): per trace, each policy's worker-seconds
 * (cost, x) against its p99 (y, log scale: static-at-mean waits seconds, the rest milliseconds).
 * Down and left is better; a policy that no other beats on both is on the frontier.
 */
import { writeFileSync } from 'node:fs'
import type { PolicyFigures } from './trace-run.ts'

const W = 420
const H = 300
const PAD = { left: 58, right: 16, top: 28, bottom: 40 }
const COLORS: Record<string, string> = {
  equalizer: '#1f77b4',
  'equalizer+objective': '#2ca02c',
  'equalizer+objective+spare': '#17becf',
  'static-peak': '#d62728',
  'static-mean': '#ff7f0e',
  'target-tracking': '#9467bd'
}

export function writeFrontier (path: string, traces: Array<{ name: string, results: PolicyFigures[] }>): void {
  const panels = traces.map((t, i) => panel(t.name, t.results, i * W))
  const legend = Object.entries(COLORS).map(([name, color], i) =>
    `<circle cx="${20 + i * 140 - (i >= 3 ? 420 : 0)}" cy="${H + 16 + (i >= 3 ? 18 : 0)}" r="5" fill="${color}"/><text x="${30 + i * 140 - (i >= 3 ? 420 : 0)}" y="${H + 20 + (i >= 3 ? 18 : 0)}">${name}</text>`).join('')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W * traces.length}" height="${H + 44}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>${panels.join('')}${legend}</svg>\n`
  writeFileSync(path, svg)
}

function panel (name: string, results: PolicyFigures[], x0: number): string {
  const points = results.filter(r => r.p99Ms != null && r.p99Ms > 0)
  if (points.length === 0) return ''
  const xs = points.map(r => r.workerSeconds)
  const ys = points.map(r => Math.log10(r.p99Ms!))
  const [xMin, xMax] = [0, Math.max(...xs) * 1.1]
  const [yMin, yMax] = [Math.floor(Math.min(...ys)), Math.ceil(Math.max(...ys))]
  const px = (v: number): number => x0 + PAD.left + (v - xMin) / (xMax - xMin) * (W - PAD.left - PAD.right)
  const py = (log: number): number => H - PAD.bottom - (log - yMin) / Math.max(1e-9, yMax - yMin) * (H - PAD.top - PAD.bottom)
  const parts = [`<text x="${x0 + W / 2}" y="16" text-anchor="middle" font-weight="bold">${name}: worker-seconds against p99</text>`]
  parts.push(`<line x1="${px(0)}" y1="${py(yMin)}" x2="${px(xMax)}" y2="${py(yMin)}" stroke="black"/><line x1="${px(0)}" y1="${py(yMin)}" x2="${px(0)}" y2="${py(yMax)}" stroke="black"/>`)
  for (let d = yMin; d <= yMax; d++) {
    parts.push(`<line x1="${px(0)}" y1="${py(d)}" x2="${px(xMax)}" y2="${py(d)}" stroke="#ddd"/><text x="${px(0) - 4}" y="${py(d) + 4}" text-anchor="end">${10 ** d} ms</text>`)
  }
  const step = niceStep(xMax)
  for (let v = 0; v <= xMax; v += step) parts.push(`<text x="${px(v).toFixed(1)}" y="${py(yMin) + 14}" text-anchor="middle">${v}</text>`)
  parts.push(`<text x="${x0 + W / 2}" y="${H - 8}" text-anchor="middle">worker-seconds (cost)</text>`)
  for (const r of points) {
    parts.push(`<circle cx="${px(r.workerSeconds).toFixed(1)}" cy="${py(Math.log10(r.p99Ms!)).toFixed(1)}" r="5" fill="${COLORS[r.policy] ?? 'gray'}"><title>${r.policy}: ${r.workerSeconds} worker-s, p99 ${r.p99Ms} ms</title></circle>`)
  }
  return parts.join('')
}

function niceStep (max: number): number {
  const raw = max / 5
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map(m => m * magnitude).find(s => s >= raw) ?? raw
}
