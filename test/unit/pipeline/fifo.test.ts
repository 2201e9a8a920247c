import { it, expect } from 'vitest'
import { Fifo } from '../../../src/pipeline/fifo.ts'

it('keeps order through pushes, shifts past its compaction point, unshifts and takeAll', () => {
  const q = new Fifo<number>()
  for (let i = 0; i < 5000; i++) q.push(i)
  for (let i = 0; i < 3000; i++) expect(q.shift()).toBe(i)
  q.unshift(2999)
  q.unshift(2998)
  expect(q.length).toBe(2002)
  expect(q.peek()).toBe(2998)
  expect(q.shift()).toBe(2998)
  q.push(5000)
  expect(q.takeAll()).toEqual(Array.from({ length: 2002 }, (_, i) => i + 2999))
  expect(q.length).toBe(0)
  expect(q.shift()).toBeUndefined()
  q.unshift(7)
  expect(q.takeAll()).toEqual([7])
})
