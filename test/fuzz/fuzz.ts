/**
 * `npm run fuzz [-- --seconds 60 --seed N]`: a member with a valid
 * certificate sends random and mutated messages on every protocol and topic
 * of a real 3-node grid, then checks that every node is up, the grid
 * converged, a channel is equal everywhere and a pipeline runs. Exits 1 on
 * any failed check.
 */
import { parseArgs } from 'node:util'
import { runFuzz } from './run.ts'
import { printReport } from './print.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' }, nodes: { type: 'string', default: '3' }, json: { type: 'boolean', default: false }, 'keep-logs': { type: 'boolean', default: false } } })
const seconds = Number(values.seconds)
const nodes = Number(values.nodes)
const seed = values.seed != null ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(seed)) {
  process.stderr.write('usage: npm run fuzz -- [--seconds 60] [--seed N] [--nodes 3] [--json] [--keep-logs]\n')
  process.exit(2)
}
const note = (msg: string): void => { process.stderr.write(`# ${new Date().toISOString().slice(11, 19)} ${msg}\n`) }
const report = await runFuzz({ seconds, seed, nodes, note, keepLogs: values['keep-logs'] })
process.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : printReport(report))
process.exit(report.ok ? 0 : 1)
