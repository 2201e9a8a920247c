import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GridNode } from '../../../src/node.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import { GridFixture, FAST } from './grid-fixture.ts'
import { GridProcess, GRID_BIN, eventually } from './grid-process.ts'

/** Whether this machine lets us give a process its own mount namespace (root, util-linux's unshare). */
export const canUnshare = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0

export interface HiddenAgentGrid {
  /** An agent process (`n1`) that sees each hidden directory as an empty tmpfs. */
  agent: GridProcess
  /** A member in this process (`n2`, not an agent): its spawns go to the agent and ship their modules. */
  member: GridNode
  /** The agent's data dir (where shipped modules are cached). */
  dataDir: string
  close: () => Promise<void>
}

/**
 * A two-node grid whose agent runs in its own mount namespace in which each
 * of `hidden` is an empty tmpfs: it cannot see the files there, while this
 * process (the requester) can. The agent runs in `cwd` (default: an empty dir).
 */
export async function gridWithHiddenAgent (hidden: string[], cwd?: string): Promise<HiddenAgentGrid> {
  const grid = await GridFixture.create(2)
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-agent-data-'))
  const emptyCwd = await mkdtemp(join(tmpdir(), 'gridd-agent-cwd-'))
  let member: GridNode | undefined
  const close = async (): Promise<void> => {
    await member?.stop()
    await grid.close()
    for (const dir of [dataDir, emptyCwd]) await rm(dir, { recursive: true, force: true })
  }
  try {
    const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`
    const args = ['node', '--certs', grid.dir, '--name', 'n1', '--host', '127.0.0.1', '--port', '0', '--agent', '--workers', '2', ...FAST]
    const mounts = hidden.map(dir => `mount -t tmpfs none ${quote(dir)} && `).join('')
    const script = `${mounts}cd ${quote(cwd ?? emptyCwd)} && exec ${quote(process.execPath)} ${quote(GRID_BIN)} ${args.map(quote).join(' ')}`
    // the data dir comes from the environment (GRID_DATA_DIR), as a service manager would set it
    const agent = new GridProcess([], { GRID_DATA_DIR: dataDir }, undefined, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script])
    grid.nodes.push(agent)
    await agent.ready()
    member = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), peers: [agent.address], heartbeatMs: 200 })
    const started = member
    await eventually(() => started.members().some(m => m.role === 'agent' && m.state === 'alive') ? true : undefined)
    return { agent, member, dataDir, close }
  } catch (err) {
    await close()
    throw err
  }
}
