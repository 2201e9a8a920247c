/**
 * The names of the agent's environment a worker inherits; nothing else passes
 * (no GRID_* variable: GRID_TLS_KEY may hold the agent's private key as PEM text,
 * and no secret an operator exported for the agent itself). A stage that needs
 * more asks for it in its spawn's `env`, which the worker host adds over IPC.
 */
export const WORKER_ENV_ALLOWLIST: readonly string[] = [
  // the shell basics a stage's own child processes and libraries expect
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TMP', 'TEMP',
  // Node itself: its mode, extra trusted CAs for the stage's outbound HTTPS, and where it keeps V8 coverage
  'NODE_ENV', 'NODE_EXTRA_CA_CERTS', 'NODE_V8_COVERAGE'
]

/** Every variable starting with one of these passes too (the locale categories: LC_ALL, LC_CTYPE, …). */
export const WORKER_ENV_PREFIXES: readonly string[] = ['LC_']

/** The part of `agentEnv` a worker starts with: the allowlisted names only, never a GRID_* one. */
export function workerEnvironment (agentEnv: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(agentEnv)) {
    if (value == null || name.startsWith('GRID_')) continue
    if (WORKER_ENV_ALLOWLIST.includes(name) || WORKER_ENV_PREFIXES.some(prefix => name.startsWith(prefix))) env[name] = value
  }
  return env
}
