/**
 * deploy/compose.yaml's services as local processes: each service's command line
 * exactly as compose would run it in its container (the image's ENTRYPOINT from
 * deploy/Dockerfile, or the service's `entrypoint`, then its `command`), with only
 * what a container has and a shared machine lacks put in its place: every
 * `service:port` and each service's own listening ports become 127.0.0.1 ports
 * of their own, every volume a directory, 0.0.0.0 becomes 127.0.0.1.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { freePort, isPortFree } from './ports.ts'

export interface ComposeService {
  image?: string
  build?: { context: string, dockerfile: string, target?: string }
  entrypoint?: string[]
  command?: string[]
  user?: string
  depends_on?: Record<string, { condition: string }>
  volumes?: string[]
  healthcheck?: { test: string[], interval?: string, retries?: number }
  restart?: string
}

export interface ComposeFile {
  services: Record<string, ComposeService>
  volumes: Record<string, unknown>
}

export function readCompose (path: string): ComposeFile {
  // compose resolves YAML merge keys (`<<: *node`)
  return parse(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile
}

/** ENTRYPOINT of each stage of a Dockerfile, inherited through `FROM <stage>`; `''` names the last (default) stage. */
export function entrypoints (dockerfile: string): Map<string, string[]> {
  const byStage = new Map<string, string[]>()
  let current: { name: string, entrypoint?: string[] } | undefined
  const close = (): void => { if (current?.entrypoint != null) byStage.set(current.name, current.entrypoint) }
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM (\S+)(?: AS (\S+))?/i.exec(line)
    if (from != null) {
      close()
      current = { name: from[2] ?? '', entrypoint: byStage.get(from[1]!) }
      continue
    }
    const entry = /^ENTRYPOINT (\[.*\])$/.exec(line)
    if (entry != null && current != null) current.entrypoint = JSON.parse(entry[1]!) as string[]
  }
  close()
  return byStage
}

/** Compose's escape: `$$` is a literal `$` (there is no `${VAR}` in the file to interpolate). */
const unescape = (text: string): string => text.replaceAll('$$', '$')

/** A port for a `service:port`, with port + 1 free too (a seed's join listener is its libp2p port + 1). */
async function freePortPair (): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port < 65535 && await isPortFree(port + 1)) return port
  }
}

/** Flags whose value is a port this service listens on. */
const LISTEN_FLAGS = new Set(['--port', '--health', '--join-port', '--dashboard', '--metrics'])

/** Every service's ports and volumes on this machine; `local(service)` gives its command line here. */
export class LocalCompose {
  readonly compose: ComposeFile
  private readonly ports = new Map<string, number>()
  private readonly root: string
  private readonly images: Map<string, string[]>

  constructor (composePath: string, dockerfilePath: string, root: string) {
    this.compose = readCompose(composePath)
    this.images = entrypoints(readFileSync(dockerfilePath, 'utf8'))
    this.root = root
  }

  /** The 127.0.0.1 port standing for `service`'s container port `port`. */
  async port (service: string, port: number): Promise<number> {
    const key = `${service}:${port}`
    let local = this.ports.get(key)
    if (local == null) {
      local = await freePortPair()
      this.ports.set(key, local)
    }
    return local
  }

  /** The directory standing for volume `name`. */
  volume (name: string): string {
    const dir = join(this.root, 'volumes', name)
    mkdirSync(dir, { recursive: true })
    return dir
  }

  /** `argv` with this service's addresses, ports and mount points replaced by their local stand-ins. */
  private async localize (service: string, argv: string[]): Promise<string[]> {
    const names = Object.keys(this.compose.services)
    const mounts = (this.compose.services[service]!.volumes ?? []).map(v => v.split(':')).map(([name, target]) => ({ target: target!, dir: this.volume(name!) }))
    // one pass over all mount points, longest first, so a replaced path is never replaced again
    const byTarget = new Map(mounts.map(m => [m.target, m.dir]))
    const mountPattern = mounts.length === 0 ? undefined : new RegExp(`(?<![\\w.-])(${[...byTarget.keys()].sort((a, b) => b.length - a.length).map(t => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(?![\\w.-])`, 'g')
    const hostPattern = new RegExp(`\\b(${[...names, '127\\.0\\.0\\.1', 'localhost'].join('|')}):(\\d+)\\b`, 'g')
    const out: string[] = []
    for (let i = 0; i < argv.length; i++) {
      let arg = unescape(argv[i]!)
      if (LISTEN_FLAGS.has(argv[i - 1] ?? '') && /^\d+$/.test(arg)) arg = String(await this.port(service, Number(arg)))
      // inside one argument (an `sh -c` script): `--port 4100` too
      for (const [whole, flag, port] of [...arg.matchAll(/(--[a-z-]+)[ =](\d+)\b/g)]) {
        if (LISTEN_FLAGS.has(flag!)) arg = arg.replace(whole, `${flag!} ${await this.port(service, Number(port))}`)
      }
      for (const [whole, host, port] of [...arg.matchAll(hostPattern)]) {
        const owner = host === '127.0.0.1' || host === 'localhost' ? service : host!
        arg = arg.replace(whole, `127.0.0.1:${await this.port(owner, Number(port))}`)
      }
      if (mountPattern != null) arg = arg.replace(mountPattern, target => byTarget.get(target)!)
      out.push(arg.replaceAll('0.0.0.0', '127.0.0.1'))
    }
    return out
  }

  /** The command line compose runs for `service` (ENTRYPOINT + command), localized. */
  async commandLine (service: string): Promise<string[]> {
    const spec = this.compose.services[service]!
    const entrypoint = spec.entrypoint ?? this.images.get(spec.build?.target ?? '')
    if (entrypoint == null) throw new Error(`no entrypoint for ${service}`)
    return await this.localize(service, [...entrypoint, ...(spec.command ?? [])])
  }

  /** The healthcheck's command (`CMD` form), localized. */
  async healthCommand (service: string): Promise<string[] | undefined> {
    const test = this.compose.services[service]!.healthcheck?.test
    if (test == null) return undefined
    if (test[0] !== 'CMD') throw new Error(`${service}: only the CMD form of a healthcheck is run here`)
    return await this.localize(service, test.slice(1))
  }

  /** Services in an order that honours `depends_on`. */
  startOrder (): string[] {
    const order: string[] = []
    const visit = (name: string): void => {
      if (order.includes(name)) return
      for (const dep of Object.keys(this.compose.services[name]!.depends_on ?? {})) visit(dep)
      order.push(name)
    }
    for (const name of Object.keys(this.compose.services)) visit(name)
    return order
  }
}
