import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { processRunning } from './helpers/process-state.ts'

describe.skipIf(process.platform !== 'linux')('processRunning (the tests\' check that a process is gone)', () => {
  it('a zombie, exited but not reaped by its parent, is not running; its parent and a live process are', async () => {
    // sh starts `sleep 0.1` and becomes `sleep 5`, which never reaps it: a zombie until sleep 5 ends
    const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      const [out] = await once(parent.stdout, 'data') as [Buffer]
      const child = Number(String(out).trim())
      expect(processRunning(child)).toBe(true)
      const deadline = Date.now() + 4000
      while (processRunning(child) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      expect(processRunning(child), 'the exited child').toBe(false)
      // still in the process table: the signal check alone takes it for running
      expect(() => process.kill(child, 0)).not.toThrow()
      expect(processRunning(parent.pid!)).toBe(true)
    } finally {
      parent.kill('SIGKILL')
      await once(parent, 'exit').catch(() => {})
    }
  })
})
