import { describe, it, expect } from 'vitest'
import { existsSync } from 'node:fs'
import { deathSignal } from '../../../src/agent/death-signal.ts'

describe('deathSignal', () => {
  it('off Linux, a worker watches its parent itself (a watchdog thread)', () => {
    expect(deathSignal('darwin')).toEqual({ prefix: [], watchdog: true })
  })

  it('on Linux with util-linux setpriv, workers start through it with PDEATHSIG and need no watchdog', () => {
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find(p => existsSync(p))
    const death = deathSignal('linux')
    if (setpriv == null) {
      expect(death.watchdog).toBe(true)
      return
    }
    expect(death).toEqual({ execPath: setpriv, prefix: ['--pdeathsig', 'KILL', '--', process.execPath], watchdog: false })
  })
})
