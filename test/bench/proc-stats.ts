/**
 * What a process costs, read from Linux's /proc and `ss` (iproute2): CPU time,
 * bytes written, TCP bytes sent per socket, and the machine's free memory and
 * load. The scale benchmark takes two snapshots and divides the difference by
 * the window; nothing here samples by itself.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`; 100 on every Linux build Node runs on). */
const CLOCK_TICKS = 100

/** User + system CPU seconds of a process, all its threads (/proc/<pid>/stat fields 14 and 15); null once it is gone. */
export async function cpuSeconds (pid: number | undefined): Promise<number | null> {
  if (pid == null) return null
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: fields are counted after its closing one
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}

/** Bytes the process passed to write()-like calls (/proc/<pid>/io wchar): libuv's socket writes and its log pipe. */
export async function bytesWritten (pid: number | undefined): Promise<number | null> {
  if (pid == null) return null
  try {
    return Number(/^wchar: (\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)
  } catch {
    return null
  }
}

/** Pids of the process's direct children (a node with no agent role should have none). */
export async function childPids (pid: number | undefined): Promise<number[]> {
  if (pid == null) return []
  try {
    return (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).split(' ').filter(s => s !== '').map(Number)
  } catch {
    return []
  }
}

/** Per pid, per TCP connection ("local peer"), the bytes sent so far (tcp_info bytes_sent, retransmissions included). */
export type SocketBytes = Map<number, Map<string, number>>

/** One `ss` snapshot of every established TCP connection of `pids` (our own processes: `ss -p` needs no privilege for them). */
export async function socketBytes (pids: number[]): Promise<SocketBytes> {
  const wanted = new Set(pids)
  const out = new Map<number, Map<string, number>>()
  const { stdout } = await run('ss', ['-tinpHO', 'state', 'established'], { maxBuffer: 64 * 1024 * 1024 })
  for (const line of stdout.split('\n')) {
    const pid = Number(/pid=(\d+)/.exec(line)?.[1])
    const sent = /bytes_sent:(\d+)/.exec(line)?.[1]
    if (!wanted.has(pid)) continue
    const [local, peer] = line.trim().split(/\s+/).slice(2, 4)
    const conns = out.get(pid) ?? new Map<string, number>()
    conns.set(`${local} ${peer}`, Number(sent ?? 0))
    out.set(pid, conns)
  }
  return out
}

/**
 * Bytes `pid` sent between two snapshots: per connection the difference, a connection opened in between counted
 * whole; one closed in between is missed (an idle grid keeps its connections, and the count says how many closed).
 */
export function socketBytesBetween (before: SocketBytes, after: SocketBytes, pid: number): { bytes: number, closed: number } {
  const a = before.get(pid) ?? new Map<string, number>()
  const b = after.get(pid) ?? new Map<string, number>()
  let bytes = 0
  for (const [conn, sent] of b) bytes += sent - (a.get(conn) ?? 0)
  return { bytes, closed: [...a.keys()].filter(conn => !b.has(conn)).length }
}

/** MemAvailable from /proc/meminfo, in MB. */
export async function memAvailableMb (): Promise<number> {
  const info = await readFile('/proc/meminfo', 'utf8')
  return Math.round(Number(/^MemAvailable:\s+(\d+) kB/m.exec(info)?.[1]) / 1024)
}

/** Jiffies the whole machine spent busy and in all, from the first line of /proc/stat (every core summed). */
export async function machineJiffies (): Promise<{ busy: number, total: number }> {
  const [user, nice, system, idle, iowait, ...rest] = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  // guest time is already counted in user and nice
  const total = [user, nice, system, idle, iowait, ...rest.slice(0, 3)].reduce((a: number, b) => a + (b ?? 0), 0)
  return { busy: total - idle! - iowait!, total }
}

/** The 1-minute load average: how contended the machine was (it is shared with other work). */
export async function loadAverage (): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0])
}
