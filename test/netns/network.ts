import { execFileSync, spawnSync } from 'node:child_process'

/**
 * Network namespaces for tests: each host its own namespace with one address
 * (10.123.0.<i+1>/24, a test range) on a veth whose other end sits on a bridge
 * in the root namespace. Partitions move hosts' veths to a second bridge (a
 * group keeps talking within itself; links between the groups are gone); a
 * one-way partition drops inbound packets with nftables in the receiving hosts.
 * Every name carries this process's pid (`gdt<pid>…`), so `sweepStale` can
 * remove what a killed run left behind without touching a live run's.
 */
export const SUBNET = '10.123.0'

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return '`ip netns` (iproute2) is not available'
  return undefined
}

/** Why the netns tests skip here (printed once per file that asks), or undefined when they run. */
export function netnsSkipReason (): string | undefined {
  const reason = netnsUnavailable()
  if (reason != null) process.stdout.write(`netns tests skipped: ${reason}\n`)
  return reason
}

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function quietly (fn: () => void): void {
  try { fn() } catch {}
}

/** Removes namespaces and links of runs whose process is gone. */
export function sweepStale (): void {
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0] ?? '')
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map(l => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
  for (const name of names) {
    const pid = /^gdt(\d+)n\d+$/.exec(name)?.[1]
    if (pid != null && !alive(Number(pid))) quietly(() => { ip('netns', 'del', name) })
  }
  for (const link of links) {
    const pid = /^gdt(\d+)[bh]\d+$/.exec(link)?.[1]
    if (pid != null && !alive(Number(pid))) quietly(() => { ip('link', 'del', link) })
  }
}

export class TestNetwork {
  readonly hosts: Array<{ ns: string, veth: string, address: string }> = []
  private readonly prefix = `gdt${process.pid}`
  private readonly bridges = [`${this.prefix}b0`, `${this.prefix}b1`]
  private closed = false

  private constructor () {}

  /** `count` hosts on one bridge; on any failure what was made is removed before the error is rethrown. */
  static create (count: number): TestNetwork {
    sweepStale()
    const net = new TestNetwork()
    try {
      for (const bridge of net.bridges) {
        ip('link', 'add', bridge, 'type', 'bridge')
        ip('link', 'set', bridge, 'up')
      }
      for (let i = 0; i < count; i++) {
        const host = { ns: `${net.prefix}n${i}`, veth: `${net.prefix}h${i}`, address: `${SUBNET}.${i + 1}` }
        net.hosts.push(host)
        ip('netns', 'add', host.ns)
        ip('link', 'add', host.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns)
        ip('link', 'set', host.veth, 'master', net.bridges[0]!)
        ip('link', 'set', host.veth, 'up')
        ip('-n', host.ns, 'link', 'set', 'lo', 'up')
        ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0')
        ip('-n', host.ns, 'link', 'set', 'eth0', 'up')
      }
      return net
    } catch (err) {
      net.close()
      throw err
    }
  }

  /** `[ip, netns, exec, <ns>]`: prefix of a command run inside host `i`. */
  exec (i: number): string[] {
    return ['ip', 'netns', 'exec', this.hosts[i]!.ns]
  }

  /** Gives the root namespace (this test process) `SUBNET.254` on the main bridge: an in-process GridNode can then be a host on it. */
  attachRoot (): string {
    const address = `${SUBNET}.254`
    ip('addr', 'add', `${address}/24`, 'dev', this.bridges[0]!)
    return address
  }

  /** Cuts `group` off from the other hosts: their links move to a bridge of their own. */
  partition (group: number[]): void {
    for (const i of group) ip('link', 'set', this.hosts[i]!.veth, 'master', this.bridges[1]!)
  }

  /** Puts every host back on the one bridge. */
  heal (): void {
    for (const host of this.hosts) ip('link', 'set', host.veth, 'master', this.bridges[0]!)
  }

  /** Host `to` drops every packet from the hosts in `from` (nftables in its namespace); `from` still receives from `to`. */
  dropFrom (to: number, from: number[]): void {
    const ns = this.hosts[to]!.ns
    const addresses = from.map(i => this.hosts[i]!.address).join(', ')
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: `table inet gridtest {\n chain input {\n  type filter hook input priority 0; policy accept;\n  ip saddr { ${addresses} } drop\n }\n}\n`, stdio: ['pipe', 'ignore', 'pipe'] })
  }

  /** Host `i` drops `percent` % of the packets it sends and of those it receives, at random (nftables: loss without `tc netem`). */
  lossy (i: number, percent: number): void {
    const chain = (hook: string): string => ` chain loss${hook} {\n  type filter hook ${hook} priority 0; policy accept;\n  numgen random mod 100 < ${percent} drop\n }\n`
    execFileSync('ip', ['netns', 'exec', this.hosts[i]!.ns, 'nft', '-f', '-'], { input: `table inet gridtest {\n${chain('input')}${chain('output')}}\n`, stdio: ['pipe', 'ignore', 'pipe'] })
  }

  /** Delays (and optionally drops) what host `i` sends, with `tc netem` on its end of the link. */
  impair (i: number, delayMs: number, jitterMs: number, lossPercent: number): void {
    execFileSync('ip', ['netns', 'exec', this.hosts[i]!.ns, 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', `${delayMs}ms`, `${jitterMs}ms`, 'loss', `${lossPercent}%`], { stdio: ['ignore', 'ignore', 'pipe'] })
  }

  /** Removes what `impair` added on every host. */
  unimpair (): void {
    for (const host of this.hosts) quietly(() => { execFileSync('ip', ['netns', 'exec', host.ns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], { stdio: 'ignore' }) })
  }

  /** Removes every nftables rule `dropFrom` and `lossy` added. */
  allowAll (): void {
    for (const host of this.hosts) quietly(() => { execFileSync('ip', ['netns', 'exec', host.ns, 'nft', 'delete', 'table', 'inet', 'gridtest'], { stdio: 'ignore' }) })
  }

  /** Deletes the namespaces (their veth ends go with them) and the bridges; safe to call twice. */
  close (): void {
    if (this.closed) return
    this.closed = true
    for (const host of this.hosts) {
      quietly(() => { ip('netns', 'del', host.ns) })
      quietly(() => { ip('link', 'del', host.veth) })
    }
    for (const bridge of this.bridges) quietly(() => { ip('link', 'del', bridge) })
  }
}

/** Whether nft is installed (the one-way partition needs it). */
export function hasNft (): boolean {
  return spawnSync('nft', ['--version']).status === 0
}

/** Whether a TCP connection from host `from` to `address:port` opens within 2 s. */
export function tcpReachable (net: TestNetwork, from: number, address: string, port: number): boolean {
  const probe = `const s = require('node:net').connect(${port}, ${JSON.stringify(address)}); s.setTimeout(2000, () => process.exit(1)); s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(1))`
  return spawnSync(net.exec(from)[0]!, [...net.exec(from).slice(1), process.execPath, '-e', probe], { timeout: 5000 }).status === 0
}

/** Whether `tc netem` works here (the tc binary and the kernel's sch_netem): tried on a veth in a throwaway namespace. */
export function hasNetem (): boolean {
  const ns = `gdt${process.pid}n99` // a name sweepStale knows, should this process die mid-probe
  try {
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1')
    return spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'p0', 'root', 'netem', 'delay', '10ms']).status === 0
  } catch {
    return false
  } finally {
    quietly(() => { ip('netns', 'del', ns) })
  }
}
