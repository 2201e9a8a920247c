import { it, expect, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Deployments } from '../../../src/deployments/service.ts'
import { DeploymentStore } from '../../../src/deployments/store.ts'
import { DEPLOYMENTS_CHANNEL } from '../../../src/deployments/types.ts'
import { ReplicaSet } from '../schedules/memory-channel.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { ERR_NOT_SYNCED, NotSyncedError } from '../../../src/errors.ts'

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

it('a deploy, stop or remove on a view of the deployments channel that has not synced is refused, retryable: a deploy was numbered 1 over the grid\'s version N, a stop of a running one answered 404', async () => {
  const unsynced = new ChannelReplica(DEPLOYMENTS_CHANNEL, { selfId: 'A', clock: new HlcClock(), maxValueBytes: 64 * 1024, publish: () => {}, running: () => true })
  const dir = await mkdtemp(join(tmpdir(), 'gridd-dep-unsynced-'))
  dirs.push(dir)
  const service = new Deployments({ self: 'A', channel: unsynced, codeDir: dir, members: () => [], pipeline: () => { throw new Error('never runs') }, log: pino({ level: 'silent' }), run: false })
  const source = 'export default {}'
  const packed = { definition: { source, sha256: sha256(source) }, stages: [] }
  for (const change of [() => service.deploy('etl', packed, null, 'peer:A'), () => service.stopDeployment('etl'), () => service.removeDeployment('etl')]) {
    expect(change).toThrow(NotSyncedError)
    try { change() } catch (err) { expect(err).toMatchObject({ code: ERR_NOT_SYNCED, retryable: true }) }
  }
  // once synced, the same deploy goes through
  unsynced.synced()
  expect(service.deploy('etl', packed, null, 'peer:A')).toMatchObject({ name: 'etl', version: 1 })
})
