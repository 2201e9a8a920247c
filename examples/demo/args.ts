/**
 * The demo's flags, parsed strictly (node:util parseArgs): `--help` prints USAGE, and an unknown or
 * misspelt flag is refused rather than ignored (`--dashbord 8080` used to start the demo without one).
 */
import { parseArgs } from 'node:util'

export const USAGE = `usage: npx node examples/demo/run.ts [options]      (npm start runs it with none)

  --quick              shorter phases (~15 s instead of ~45 s)
  --plain              one block per second instead of redrawing (the default when piped)
  --dashboard PORT     also serve this node's live web dashboard on 127.0.0.1:PORT (0: any free port)
  --peer ADDR          run against a grid already running instead of starting a dev grid; needs --certs
  --certs DIR          with --peer: DIR/ca.crt and DIR/NAME.crt/.key (a member certificate)
  --name NAME          with --peer: the certificate's name (default demo)
  --host IP, --port N, --announce HOST:PORT
                       with --peer: where this node listens and what it announces
  -h, --help           this text
`

export interface DemoArgs {
  quick: boolean
  plain: boolean
  dashboard?: number
  peer?: string
  certs?: string
  name?: string
  host?: string
  port?: number
  announce?: string
  help: boolean
}

/** The demo's flags from `argv` (without node and the script); an Error saying what is wrong otherwise. */
export function parseDemoArgs (argv: readonly string[]): DemoArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean', default: false },
      plain: { type: 'boolean', default: false },
      dashboard: { type: 'string' },
      peer: { type: 'string' },
      certs: { type: 'string' },
      name: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      announce: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  const port = (flag: string, text: string | undefined): number | undefined => {
    if (text == null) return undefined
    const n = Number(text)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${flag} must be a port number (0-65535), got "${text}"`)
    return n
  }
  if (values.peer == null) {
    const stray = (['certs', 'name', 'host', 'port', 'announce'] as const).filter(flag => values[flag] != null)
    if (stray.length > 0) throw new Error(`${stray.map(f => `--${f}`).join(', ')}: only with --peer (a dev grid needs none)`)
  } else if (values.certs == null) {
    throw new Error('--peer needs --certs DIR (ca.crt and a member certificate NAME.crt/NAME.key, --name, default "demo")')
  }
  return { ...values, dashboard: port('dashboard', values.dashboard), port: port('port', values.port) }
}
