import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { startApiServer } from '../../../src/api/server.ts'
import type { ApiServer } from '../../../src/api/server.ts'
import type { ApiOptions } from '../../../src/api/options.ts'
import { stubNode } from './stub-node.ts'

export interface TokenServer {
  server: ApiServer
  session: ReturnType<typeof stubNode>['session']
  /** An HS256 token the server accepts: `scope` (space-separated) for `subject`, 5 minutes. */
  token: (scope: string, subject: string) => Promise<string>
}

/**
 * An API server over the stub node, taking HS256 tokens signed with a secret of its own; what it makes
 * (the server, the secret's temp dir) is undone by the functions it pushes on `cleanup`.
 */
export async function tokenServer (cleanup: Array<() => unknown>, options: Partial<Omit<ApiOptions, 'jwt'>> = {}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-api-'))
  cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const secret = 't'.repeat(40)
  await writeFile(join(dir, 'secret'), secret)
  const { node, session } = stubNode()
  const server = await startApiServer(node, { port: 0, ...options, jwt: { secretFile: join(dir, 'secret') } })
  cleanup.push(server.close)
  const token = async (scope: string, subject: string): Promise<string> =>
    await new SignJWT({ scope }).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setExpirationTime('5m').sign(new TextEncoder().encode(secret))
  return { server, session, token }
}
