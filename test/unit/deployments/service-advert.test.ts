import { it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Deployments } from '../../../src/deployments/service.ts'
import { DeploymentStore } from '../../../src/deployments/store.ts'
import { DEPLOYMENTS_CHANNEL } from '../../../src/deployments/types.ts'
import { ReplicaSet } from '../schedules/memory-channel.ts'

const dirs: string[] = []
afterAll(async () => { await Promise.all(dirs.map(async d => { await rm(d, { recursive: true, force: true }) })) })

it('a member that no longer runs deployments withdraws the advert a killed run of it left, even one that reaches it later by sync', async () => {
  let now = 1_000_000
  const replicas = new ReplicaSet(DEPLOYMENTS_CHANNEL, ['A', 'B'], () => now)
  // A ran deployments and was SIGKILLed: its advert stays in B's replica
  new DeploymentStore(replicas.get('A')).advertise('A', {})
  replicas.deliver()
  const seenByB = new DeploymentStore(replicas.get('B'))
  expect([...seenByB.candidates().keys()]).toContain('A')
  // A restarts with a fresh replica (its advert not synced back yet) and without running deployments
  const restarted = new ReplicaSet(DEPLOYMENTS_CHANNEL, ['A'], () => now)
  now += 1000
  const dir = await mkdtemp(join(tmpdir(), 'gridd-dep-advert-'))
  dirs.push(dir)
  const service = new Deployments({ self: 'A', channel: restarted.get('A'), codeDir: dir, members: () => [], pipeline: () => { throw new Error('never runs') }, log: pino({ level: 'silent' }), run: false })
  service.start()
  // its withdrawal reaches B, and B's copy of the old advert reaching A does not bring it back
  replicas.get('B').merge(restarted.get('A').snapshot())
  restarted.get('A').merge(replicas.get('B').snapshot())
  expect([...seenByB.candidates().keys()]).not.toContain('A')
  expect([...new DeploymentStore(restarted.get('A')).candidates().keys()]).not.toContain('A')
  service.stop()
})
