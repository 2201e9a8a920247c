// A TypeScript stage: adds the team that owns each service, drops debug noise.
interface LogRecord { time: string, level: string, service: string, message: string }
interface Enriched extends LogRecord { team: string, severity: number }

const OWNERS: Record<string, string> = { api: 'platform', billing: 'payments', search: 'discovery' }
const SEVERITY: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3 }

export default {
  process (record: LogRecord): Enriched | undefined {
    const severity = SEVERITY[record.level] ?? 1
    if (severity === 0) return undefined
    return { ...record, team: OWNERS[record.service] ?? 'unknown', severity }
  }
}
