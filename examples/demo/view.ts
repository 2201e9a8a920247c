/** The demo's live terminal view: members, workers per agent, stage rates and pressure, recent equalizer decisions. */
import type { Member } from '../../src/index.ts'
import type { StageStats } from '../../src/pipeline/types.ts'

export interface ViewState {
  elapsedS: number
  phase: string
  /** This script's own node (the pipeline's owner). */
  selfId: string
  members: Member[]
  stages: StageStats[]
  results: number
  decisions: string[]
}

export function renderView (s: ViewState): string {
  const lines = [`gridd demo: primes on a dev grid (mutual TLS)   t=${s.elapsedS.toFixed(0)} s   input: ${s.phase}`, '']
  lines.push(...table(['member', 'role', 'state', 'cpu', 'workers by stage'], s.members.map(m => [
    short(m.id),
    m.id === s.selfId ? `${m.role} (this script, owner)` : m.role,
    m.state,
    m.role === 'agent' ? `${Math.round(m.load.cpu * 100)}%` : '-',
    m.role === 'agent' ? Object.entries(m.load.stages).map(([stage, n]) => `${stage} ${n}`).join(', ') || '-' : '-'
  ])))
  lines.push('')
  lines.push(...table(['stage', 'workers', 'arrival/s', 'μ per worker/s', 'queued', 'in flight', 'pressure'], s.stages.map(st => [
    st.name, st.unplaceable != null ? `${st.workers} (unplaceable)` : String(st.workers), st.arrivalRate.toFixed(1), st.processingRate.toFixed(1), String(st.queued), String(st.inFlight), st.pressure
  ])))
  for (const st of s.stages) if (st.unplaceable != null) lines.push(`  ! ${st.name} cannot be placed: ${st.unplaceable}`)
  lines.push('', `results: ${s.results}`, 'equalizer decisions:', ...(s.decisions.length === 0 ? ['  (none yet)'] : s.decisions.slice(-5).map(d => `  ${d}`)))
  return lines.join('\n') + '\n'
}

function short (id: string): string {
  return `${id.slice(0, 8)}…${id.slice(-4)}`
}

function table (header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  return [header, ...rows].map(r => '  ' + r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
}
