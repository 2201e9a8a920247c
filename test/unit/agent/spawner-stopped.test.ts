import { it, expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Spawner } from '../../../src/agent/spawner.ts'
import { resolveAgentConfig } from '../../../src/agent/config.ts'
import { SpawnRefusedError } from '../../../src/errors.ts'

const STAGE = fileURLToPath(new URL('../../fixtures/stages/plain.mjs', import.meta.url))

it('a spawn that comes after the agent stopped (its module was still being stored) is refused: no worker outlives the stop', async () => {
  const spawner = new Spawner(resolveAgentConfig({ workers: 2, cpu: 2, memoryMb: 1024, prestartWorkers: 0 }), pino({ level: 'silent' }), () => {})
  spawner.start()
  await spawner.stop()
  let late: ReturnType<Spawner['spawn']> | undefined
  try {
    expect(() => { late = spawner.spawn({ stage: 'double', modulePath: STAGE, resources: { cpu: 1, memoryMb: 0 } }) }).toThrow(SpawnRefusedError)
    expect(spawner.list()).toEqual([])
  } finally {
    // on the current code the late worker runs on after the stop: end it here
    await late?.kill()
    await spawner.destroy()
  }
}, 20_000)
