import { describe, expect, it } from 'vitest'
import { rounds } from '../bench/trace-rounds.ts'

const named = (...names: string[]): Array<{ name: string }> => names.map(name => ({ name }))
const shape = (rs: Array<Array<{ name: string }>>): string[] => rs.map(r => r.map(p => p.name).join(' + '))
const ALL = named('equalizer', 'equalizer+objective', 'equalizer+objective+spare', 'static-peak', 'static-mean', 'target-tracking')

describe('bench:trace rounds: which policies run side by side', () => {
  it('runs each goal pair side by side `repeat` times, alternating, each pair\'s order flipped every other round, then the rest two at a time', () => {
    expect(shape(rounds(ALL, 3))).toEqual([
      'equalizer + target-tracking', 'equalizer+objective + static-peak',
      'target-tracking + equalizer', 'static-peak + equalizer+objective',
      'equalizer + target-tracking', 'equalizer+objective + static-peak',
      'equalizer+objective+spare + static-mean'
    ])
  })

  it('runs every policy once with repeat 1; a goal pair\'s policy chosen without its partner runs once, like the rest', () => {
    expect(shape(rounds(ALL, 1))).toEqual(['equalizer + target-tracking', 'equalizer+objective + static-peak', 'equalizer+objective+spare + static-mean'])
    expect(shape(rounds(named('static-peak'), 2))).toEqual(['static-peak'])
    expect(shape(rounds(named('equalizer', 'static-peak'), 3))).toEqual(['equalizer + static-peak'])
  })

  it('leaves an odd one out alone rather than dropping it', () => {
    expect(shape(rounds(named('equalizer', 'static-mean', 'equalizer+objective+spare', 'static-peak', 'target-tracking'), 1))).toEqual(['equalizer + target-tracking', 'static-mean + equalizer+objective+spare', 'static-peak'])
    expect(shape(rounds(named('static-mean'), 1))).toEqual(['static-mean'])
  })
})
