import type { Command } from 'commander'
import { ConfigError } from '../errors.ts'

const ON = new Set(['1', 'true', 'yes', 'on'])
const OFF = new Set(['', '0', 'false', 'no', 'off'])

/**
 * Reads the variable of each switch (`--agent` ← GRID_AGENT, `--api-tls` ← GRID_API_TLS,
 * `--no-deployments` ← GRID_NO_DEPLOYMENTS) as on or off. Commander turns a switch on whenever its
 * variable is set, so GRID_AGENT=false made an agent and GRID_API_TLS=0 served HTTPS; anything but
 * a yes or a no is bad input (exit 2). A `--no-x` switch left off keeps its default: x stays true.
 */
export function applySwitchEnvironment (cmd: Command, env: Record<string, string | undefined>): void {
  for (const option of cmd.options) {
    // commander counts a `--no-x` switch as no boolean
    if (option.envVar == null || !(option.isBoolean() || option.negate)) continue
    const key = option.attributeName()
    if (cmd.getOptionValueSource(key) !== 'env') continue
    const text = (env[option.envVar] ?? '').trim().toLowerCase()
    if (OFF.has(text)) cmd.setOptionValueWithSource(key, option.negate ? true : undefined, 'env')
    else if (!ON.has(text)) throw new ConfigError(option.envVar, `expected 1, true, yes or on (or 0, false, no, off, empty: ${option.long ?? key} off), got "${env[option.envVar] ?? ''}"`)
  }
}
