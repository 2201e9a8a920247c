import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { GridNode } from '../../src/node.ts'
import { createClientLibp2p } from '../../src/transport/libp2p.ts'
import type { ClientLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { waitForTask } from '../../src/tasks/client.ts'
import { ERR_NODE_STOPPED, ERR_TASK_NOT_FOUND, NodeStoppedError } from '../../src/errors.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'
import { freePort, waitPortFree } from './helpers/ports.ts'

const SQUARE = fileURLToPath(new URL('../fixtures/tasks/square.mjs', import.meta.url))
const WAIT_HELD = 'tasks wait: waiting for the task to be final'

/**
 * waitForTask (what `grid task wait|run` use) against a real owner, a GridNode here (its tasks service and journal,
 * libp2p with mTLS), stopped gracefully under the wait and started again on its port (or not, or another in its
 * place): what each way the owner comes back, or does not, ends the wait with. No agent: the task stays queued.
 */
describe('waitForTask while the task\'s owner stops gracefully (a real owner in this process)', () => {
  let grid: GridFixture
  let client: ClientLibp2p
  let port: number
  const running = new Set<GridNode>()

  /** An owner on `port` as `cert` (n1: the task's owner; its key is its peer id), its data dir `data`; `logged` gets its log lines. */
  const start = async (data: string, logged: string[] = [], cert = 'n1'): Promise<GridNode> => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => { logged.push(line) } })
    const node = await GridNode.start({ host: '127.0.0.1', port, tls: await loadCerts(grid.dir, cert), dataDir: join(grid.dir, data), logger })
    running.add(node)
    return node
  }
  const stop = async (node: GridNode): Promise<void> => {
    running.delete(node)
    await node.stop()
    await waitPortFree(port)
  }

  /** A queued task on a new owner (data dir `data`) and a wait on it that the owner holds; `ownerReturnMs` as the CLI's --owner-wait. */
  const waitingOn = async (data: string, ownerReturnMs: number, controller = new AbortController()) => {
    const logged: string[] = []
    const owner = await start(data, logged)
    const task = owner.submit(SQUARE, 4)
    task.result().catch(() => {})
    const target: Multiaddr = multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${owner.peerId}`)
    const told = { stopped: 0, returned: 0 }
    const outcome = waitForTask(client, target, task.id, {
      signal: controller.signal,
      ownerReturnMs,
      onOwnerStopped: () => { told.stopped++ },
      onOwnerReturned: () => { told.returned++ }
    }).then(answer => ({ answer }), (err: unknown) => ({ err, at: Date.now() }))
    // a stop answers a wait it holds (one still in transit may be dropped instead)
    await eventually(() => logged.some(line => line.includes(WAIT_HELD) && line.includes(task.id)) ? true : undefined)
    return { owner, id: task.id, told, outcome }
  }

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    client = await createClientLibp2p(await loadCerts(grid.dir, 'n2'), pino({ level: 'silent' }))
    port = await freePort()
  })
  afterEach(async () => { for (const node of [...running]) await stop(node) })
  afterAll(async () => {
    await client?.stop()
    await grid?.close()
  })

  it('stopped, then refused (down), then back without the task (another data dir): ERR_TASK_NOT_FOUND, the owner\'s answer', async () => {
    const { owner, id, told, outcome } = await waitingOn('data-a', 60_000)
    await stop(owner)
    await eventually(() => told.stopped === 1 ? true : undefined)
    // down for a while: its dials refused, asked again
    await new Promise(resolve => setTimeout(resolve, 1000))
    await start('data-other')
    const { err } = await outcome as { err: unknown }
    expect(err).toMatchObject({ code: ERR_TASK_NOT_FOUND })
    expect((err as Error).message).toContain(id)
    expect(told).toEqual({ stopped: 1, returned: 0 })
  }, 60_000)

  it('aborted during a pause between asks (the owner down): rejects at once with the signal\'s reason', async () => {
    const controller = new AbortController()
    const { owner, told, outcome } = await waitingOn('data-b', 60_000, controller)
    await stop(owner)
    await eventually(() => told.stopped === 1 ? true : undefined)
    // the pauses (250 ms, doubling) have grown to 2 s by now
    await new Promise(resolve => setTimeout(resolve, 2000))
    const abortedAt = Date.now()
    controller.abort(new Error('the caller gave up'))
    const { err, at } = await outcome as { err: unknown, at: number }
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toBe('the caller gave up')
    // not at the pause's end (up to 2 s away)
    expect(at - abortedAt).toBeLessThan(1000)
  }, 60_000)

  /**
   * Another node came up on the owner's port (the wait names the owner's peer id: its TLS check refuses it). Past the
   * bound the wait said only that the owner was stopping, whatever kept it from the owner; it now names that.
   */
  it('not back within the bound: ERR_NODE_STOPPED (retryable), naming what the last attempt met', async () => {
    // a bound the other node is up well within (it starts in about a second)
    const { owner, id, told, outcome } = await waitingOn('data-c', 6000)
    await stop(owner)
    await eventually(() => told.stopped === 1 ? true : undefined)
    await start('data-impostor', [], 'n3')
    const { err } = await outcome as { err: unknown }
    expect(err).toBeInstanceOf(NodeStoppedError)
    expect(err).toMatchObject({ code: ERR_NODE_STOPPED, retryable: true })
    const message = (err as Error).message
    expect(message).toContain(`the owner of task ${id} stopped and was not reached again within 6000 ms (last attempt: `)
    expect(message).toContain(`expected peer ${owner.peerId}`)
    expect((err as Error).cause).toBeInstanceOf(Error)
  }, 60_000)

  it('back in time with the task (its journal): the wait goes on there and ends with the task; told it stopped, then that it is back', async () => {
    const { owner, id, told, outcome } = await waitingOn('data-d', 60_000)
    await stop(owner)
    await eventually(() => told.stopped === 1 ? true : undefined)
    const logged: string[] = []
    const back = await start('data-d', logged)
    // asked again and held there (no agent: queued); its end answers it
    await eventually(() => logged.some(line => line.includes(WAIT_HELD) && line.includes(id)) ? true : undefined, 30_000)
    back.tasks.getTask(id)!.cancel('the test is done')
    const { answer } = await outcome as { answer: { task: { status: string } } }
    expect(answer.task.status).toBe('cancelled')
    expect(told).toEqual({ stopped: 1, returned: 1 })
  }, 60_000)
})
