import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridFixture, memberEvent } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'

/** Short enough for a test, long enough that a `grid status` (a fresh CLI process) lands inside it. */
const FORGET_LEFT_MS = 4000

describe('members that left are shown for a while, then only remembered', () => {
  let grid: GridFixture
  let observer: GridProcess
  beforeAll(async () => {
    grid = await GridFixture.create(2)
    observer = await grid.start('n1', ['--forget-left-after-ms', String(FORGET_LEFT_MS)])
  })
  afterAll(async () => { await grid.close() })

  it('SIGTERM of a real grid node: listed left, gone from grid status after the while, still in grid status --all; back again it is a join', async () => {
    const beforeJoin = observer.mark()
    const leaver = await grid.start('n2', ['--peer', observer.address])
    await observer.waitFor(memberEvent('member:join', leaver.peerId), 15_000, beforeJoin)
    const joinedAt = Date.now()
    // a leave travels by gossip like heartbeats: wait until heartbeats flow (a member learned
    // by sync and heard since), so the gossip mesh the leave needs exists
    await eventually(async () => {
      const row = (await grid.status(observer)).members.find(m => m.id === leaver.peerId)
      return row?.state === 'alive' && Date.now() - joinedAt > 1000 && row.lastSeenMs < 400 ? true : undefined
    })
    const beforeLeave = observer.mark()
    // before the signal: the observer hears the leave (and starts its while) only after this, so both
    // checks below hold whenever the process exits (stop() returns after the leave was sent and heard)
    const leftAt = Date.now()
    expect(await leaver.stop('SIGTERM')).toBe(0)
    await observer.waitFor(memberEvent('member:leave', leaver.peerId), 15_000, beforeLeave)
    // shown as left for the while (checked once: the CLI's start-up eats into the window)
    const during = await grid.status(observer)
    if (Date.now() - leftAt < FORGET_LEFT_MS) expect(during.members).toMatchObject([{ id: leaver.peerId, state: 'left' }])
    // then dropped from the live table: status, dashboard and placement see nothing
    await eventually(async () => (await grid.status(observer)).members.length === 0 ? true : undefined, FORGET_LEFT_MS + 10_000)
    expect(Date.now() - leftAt).toBeGreaterThanOrEqual(FORGET_LEFT_MS)
    const all = await grid.status(observer, ['--all'])
    expect(all.members).toMatchObject([{ id: leaver.peerId, state: 'left' }])
    expect(all.members[0]!.lastSeenMs).toBeGreaterThanOrEqual(FORGET_LEFT_MS)
    // the text form lists it too
    const text = await runGrid(['status', '--peer', observer.address, '--certs', grid.dir, '--all'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`${leaver.peerId}\\s+left`))

    // the same member back (same key): a join again, and no longer only remembered
    const back = await grid.start('n2', ['--peer', observer.address])
    await eventually(() => observer.lines.filter(memberEvent('member:join', back.peerId)).length === 2 ? true : undefined)
    const after = await grid.status(observer, ['--all'])
    expect(after.members).toMatchObject([{ id: back.peerId, state: 'alive' }])
  })

  it('grid node refuses a bad --forget-left-after-ms with exit 2 naming it', async () => {
    const res = await runGrid(['node', '--dev', '--port', '0', '--forget-left-after-ms', 'soon'])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('--forget-left-after-ms')
  })
})
