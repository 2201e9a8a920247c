import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createCa, issueCertificate } from './create.ts'
import { writePair } from './files.ts'
import { loadCerts } from '../transport/mtls/material.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import { FileExistsError } from '../errors.ts'
import { X509Certificate } from 'node:crypto'
import { rolesOfCertificate } from '../trust/roles.ts'
import type { Role } from '../trust/roles.ts'

/** A dev node is everything a one-machine grid needs: a member that hosts workers and may administer it. */
const DEV_ROLES: readonly Role[] = ['member', 'agent', 'admin']

/**
 * Throwaway certificates for `--dev`: one CA per user per machine, in the
 * temp dir, shared by every dev node on this machine so they can talk to
 * each other. Never use it across machines: the CA key sits in /tmp.
 */
export function devCertsDir (): string {
  return join(tmpdir(), `gridd-dev-${process.getuid?.() ?? 'user'}`)
}

export async function devCerts (name = `node-${randomBytes(4).toString('hex')}`, dir = devCertsDir()): Promise<TlsMaterial & { dir: string, name: string }> {
  await ensureCa(dir)
  const ca = { cert: await readFile(join(dir, 'ca.crt'), 'utf8'), key: await readFile(join(dir, 'ca.key'), 'utf8') }
  try {
    await writePair(dir, name, await issueCertificate(ca, { name, roles: DEV_ROLES }), false)
  } catch (err) {
    // a certificate of that name exists already: reuse it (same name, same identity)
    if (!(err instanceof FileExistsError)) throw err
  }
  const certs = await loadCerts(dir, name)
  // one made before certificates carried roles: reissue it (a dev grid is throwaway)
  if (rolesOfCertificate(new X509Certificate(certs.cert)).size === 0) {
    await writePair(dir, name, await issueCertificate(ca, { name, roles: DEV_ROLES }), true)
    return { ...await loadCerts(dir, name), dir, name }
  }
  return { ...certs, dir, name }
}

/** Creates the dev CA once; concurrent starters race on an atomic rename and the loser uses the winner's. */
async function ensureCa (dir: string): Promise<void> {
  try {
    await readFile(join(dir, 'ca.crt'))
    return
  } catch {}
  await mkdir(tmpdir(), { recursive: true })
  const staging = await mkdtemp(`${dir}.staging-`)
  try {
    await writePair(staging, 'ca', await createCa({ commonName: 'gridd dev CA (throwaway)' }), false)
    await rename(staging, dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}
