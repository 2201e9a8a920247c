import { describe, it, expect } from 'vitest'
import { rankAgents, placeOne, planPlacement, fitCount, lacks, utilizationAfter } from '../../../src/placement/index.ts'
import type { AgentLoad } from '../../../src/placement/index.ts'
import { NoCapacityError, ConfigError } from '../../../src/errors.ts'

const ONE = { cpu: 1, memoryMb: 0 }

function agent (id: string, overrides: Partial<AgentLoad> = {}): AgentLoad {
  return { id, capacity: { cpu: 4, memoryMb: 4096 }, maxWorkers: 4, used: { cpu: 0, memoryMb: 0, workers: 0 }, weight: 1, strategy: 'horizontal', ...overrides }
}

const counts = (plan: string[]): Record<string, number> => plan.reduce<Record<string, number>>((acc, id) => { acc[id] = (acc[id] ?? 0) + 1; return acc }, {})

describe('placement', () => {
  it('horizontal spreads 6 equal workers over 3 equal agents 2/2/2', () => {
    expect(counts(planPlacement(ONE, [agent('a'), agent('b'), agent('c')], 6))).toEqual({ a: 2, b: 2, c: 2 })
  })

  it('vertical packs them onto one agent until it is full, then the next', () => {
    const plan = planPlacement(ONE, [agent('a'), agent('b'), agent('c')], 6, 'vertical')
    expect(plan).toEqual(['a', 'a', 'a', 'a', 'b', 'b'])
  })

  it('each agent\'s own gossiped strategy applies when the request names none', () => {
    const plan = planPlacement(ONE, [agent('a', { strategy: 'vertical' }), agent('b', { strategy: 'vertical' })], 5)
    expect(plan).toEqual(['a', 'a', 'a', 'a', 'b'])
  })

  it('weight 2 vs 1 shares roughly 2:1', () => {
    const big = { capacity: { cpu: 100, memoryMb: 0 }, maxWorkers: 100 }
    const result = counts(planPlacement(ONE, [agent('heavy', { ...big, weight: 2 }), agent('light', { ...big, weight: 1 })], 30))
    expect(Math.abs((result.heavy ?? 0) - 20)).toBeLessThanOrEqual(2)
    expect(Math.abs((result.light ?? 0) - 10)).toBeLessThanOrEqual(2)
  })

  it('under vertical too a larger weight attracts more work: the heavier agent is packed first', () => {
    // burden / weight made a heavier agent look emptier, so packing (most burden first) left it for last
    expect(planPlacement(ONE, [agent('heavy', { weight: 2 }), agent('light')], 4, 'vertical')).toEqual(['heavy', 'heavy', 'heavy', 'heavy'])
    expect(planPlacement(ONE, [agent('light'), agent('heavy', { weight: 3, strategy: 'vertical' })], 4, 'vertical')).toEqual(['heavy', 'heavy', 'heavy', 'heavy'])
    // a nearly full agent is still finished before an empty heavier one is started (3/4 × 1 > 1/4 × 2)
    const nearlyFull = agent('light', { used: { cpu: 2, memoryMb: 0, workers: 2 } })
    expect(rankAgents(ONE, [agent('heavy', { weight: 2 }), nearlyFull], 'vertical').ranked.map(a => a.id)).toEqual(['light', 'heavy'])
    // a negative weight on a horizontal grid packs with its magnitude: -2 is packed before -1
    expect(rankAgents(ONE, [agent('a', { weight: -1 }), agent('b', { weight: -2 })]).ranked.map(a => a.id)).toEqual(['b', 'a'])
  })

  it('a negative weight flips the strategy for that agent', () => {
    // horizontal grid, but b (weight -1) wants to be packed: it fills first
    const plan = planPlacement(ONE, [agent('a'), agent('b', { weight: -1 })], 5)
    expect(plan.slice(0, 4)).toEqual(['b', 'b', 'b', 'b'])
    // and under a vertical request, a negative weight spreads instead
    const flipped = rankAgents(ONE, [agent('a', { used: { cpu: 2, memoryMb: 0, workers: 2 } }), agent('b', { weight: -1, used: { cpu: 1, memoryMb: 0, workers: 1 } })], 'vertical')
    expect(flipped.ranked.map(x => x.id)).toEqual(['a', 'b'])
  })

  it('weight 0 is used only when the others are full', () => {
    const plan = planPlacement(ONE, [agent('drain', { weight: 0 }), agent('a'), agent('b')], 10)
    expect(plan.slice(0, 8).every(id => id !== 'drain')).toBe(true)
    expect(plan.slice(8)).toEqual(['drain', 'drain'])
  })

  it('resource fit refuses an agent short on memory, and NoCapacityError says what each lacked', () => {
    const request = { cpu: 1, memoryMb: 512 }
    const agents = [agent('small', { capacity: { cpu: 4, memoryMb: 256 } }), agent('big')]
    expect(placeOne(request, agents).id).toBe('big')
    const full = agent('full', { used: { cpu: 4, memoryMb: 0, workers: 4 } })
    const err = (() => { try { placeOne(request, [agents[0]!, full]); return undefined } catch (e) { return e } })()
    expect(err).toBeInstanceOf(NoCapacityError)
    expect((err as NoCapacityError).code).toBe('ERR_NO_CAPACITY')
    expect((err as NoCapacityError).shortfalls).toEqual([
      { agentId: 'small', lacks: ['memory: needs 512 MB, has 256 MB free'] },
      { agentId: 'full', lacks: ['workers: 4/4 in use', 'cpu: needs 1, has 0 free'] }
    ])
  })

  it('ties break deterministically by peer id, whatever the input order', () => {
    const agents = ['q', 'c', 'x', 'a', 'm'].map(id => agent(id))
    for (let i = 0; i < 10; i++) {
      const shuffled = [...agents].sort(() => Math.random() - 0.5)
      expect(rankAgents(ONE, shuffled).ranked.map(a => a.id)).toEqual(['a', 'c', 'm', 'q', 'x'])
    }
  })

  it('fractional CPU requests fit by slot fractions', () => {
    const plan = planPlacement({ cpu: 0.5, memoryMb: 0 }, [agent('a', { capacity: { cpu: 1, memoryMb: 0 }, maxWorkers: 8 })], 2)
    expect(plan).toEqual(['a', 'a'])
    expect(() => planPlacement({ cpu: 0.5, memoryMb: 0 }, [agent('a', { capacity: { cpu: 1, memoryMb: 0 }, maxWorkers: 8 })], 3)).toThrow(NoCapacityError)
  })

  it('utilization is the largest used fraction after placing', () => {
    expect(utilizationAfter({ cpu: 1, memoryMb: 2048 }, agent('a'))).toBeCloseTo(0.5)
    expect(utilizationAfter({ cpu: 0, memoryMb: 0 }, agent('a', { used: { cpu: 0, memoryMb: 0, workers: 3 } }))).toBe(1)
  })

  it.each([{ cpu: -1, memoryMb: 0 }, { cpu: NaN, memoryMb: 0 }, { cpu: 1, memoryMb: -5 }])('rejects a bad request %j naming the field', (request) => {
    expect(() => rankAgents(request, [agent('a')])).toThrow(ConfigError)
  })

  it('fractional CPU capacity (an agent started with --cpu 1.5) fits fractional and whole requests exactly', () => {
    const small = agent('a', { capacity: { cpu: 1.5, memoryMb: 0 }, maxWorkers: 8 })
    expect(fitCount({ cpu: 0.5, memoryMb: 0 }, [small])).toBe(3)
    expect(fitCount({ cpu: 1, memoryMb: 0 }, [small])).toBe(1)
    expect(fitCount({ cpu: 0.1, memoryMb: 0 }, [small])).toBe(8) // worker slots bound it
    expect(planPlacement({ cpu: 0.75, memoryMb: 0 }, [small], 2)).toEqual(['a', 'a'])
    expect(() => planPlacement({ cpu: 0.75, memoryMb: 0 }, [small], 3)).toThrow(NoCapacityError)
    expect(lacks({ cpu: 2, memoryMb: 0 }, small)).toEqual(['cpu: needs 2, has 1.5 free'])
    expect(utilizationAfter({ cpu: 0.75, memoryMb: 0 }, small)).toBeCloseTo(0.5)
  })

  it('rejects a request beyond what the spawn protocol carries', () => {
    expect(() => rankAgents({ cpu: 4097, memoryMb: 0 }, [agent('a')])).toThrow(expect.objectContaining({ option: 'resources.cpu' }))
  })

  it('fitCount: the number of workers that still fit, bounded by cpu, memory and worker slots', () => {
    const agents = [
      agent('a'), // 4 slots free
      agent('b', { used: { cpu: 3, memoryMb: 0, workers: 1 } }), // 1 cpu left
      agent('c', { capacity: { cpu: 4, memoryMb: 1000 } }) // memory-bound below
    ]
    expect(fitCount(ONE, agents)).toBe(4 + 1 + 4)
    expect(fitCount({ cpu: 1, memoryMb: 400 }, agents)).toBe(4 + 1 + 2)
    expect(fitCount({ cpu: 0.5, memoryMb: 0 }, [agent('a')])).toBe(4)
    expect(fitCount(ONE, agents, 3)).toBe(3)
    expect(fitCount(ONE, [agent('x', { used: { cpu: 5, memoryMb: 0, workers: 5 } })])).toBe(0)
  })
})
