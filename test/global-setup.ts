import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundle } from '../scripts/bundle.ts'

/**
 * Integration tests start `grid node` the way users do, through bin/grid.js: make its bundle match these sources.
 * Nodes started without --data-dir keep their state under $XDG_STATE_HOME: a temp dir for this run (the test
 * processes and the nodes they start inherit it), removed afterwards, so runs leave nothing in ~/.local/state.
 */
export default async function setup (): Promise<() => Promise<void>> {
  await bundle()
  const stateHome = await mkdtemp(join(tmpdir(), 'gridd-test-state-'))
  process.env.XDG_STATE_HOME = stateHome
  return async () => { await rm(stateHome, { recursive: true, force: true }) }
}
