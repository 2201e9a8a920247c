import { readFile, readlink } from 'node:fs/promises'

/**
 * What tells this process from another given the same pid later (Linux /proc): `space`, where a pid
 * means one process (this kernel's boot and pid namespace), and `start`, this process's start time
 * in clock ticks since boot. Undefined where /proc does not tell (not Linux, /proc not mounted).
 */
export interface ProcessStart { space: string, start: string }

let own: Promise<ProcessStart | undefined> | undefined

/** This process's own ProcessStart, read once. */
export async function ownProcessStart (): Promise<ProcessStart | undefined> {
  own ??= (async () => {
    try {
      const [boot, pidNamespace, start] = await Promise.all([
        readFile('/proc/sys/kernel/random/boot_id', 'utf8'),
        readlink('/proc/self/ns/pid'),
        processStartTime(process.pid)
      ])
      return typeof start === 'string' ? { space: `${boot.trim()} ${pidNamespace}`, start } : undefined
    } catch {
      return undefined
    }
  })()
  return await own
}

/**
 * The start time of process `pid` (field 22 of /proc/<pid>/stat), as ownProcessStart's `start`;
 * 'exited' when it is a zombie (exited, not yet reaped); 'missing' when /proc has no such entry (no
 * such process, or one hidden from this user by hidepid=2: the caller tells them apart); undefined when
 * /proc cannot tell (unreadable, or no /proc — callers check ownProcessStart first, as a missing /proc
 * also reads as ENOENT).
 */
export async function processStartTime (pid: number): Promise<string | 'exited' | 'missing' | undefined> {
  let text: string
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ESRCH' ? 'missing' : undefined
  }
  // field 2, the command name in parentheses, may itself hold spaces and ')': fields 3 on follow the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const start = fields[22 - 3]
  if (state === 'Z' || state === 'X' || state === 'x') return 'exited'
  return start != null && /^\d+$/.test(start) ? start : undefined
}
