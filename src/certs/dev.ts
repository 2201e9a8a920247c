import { lstat, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createCa, issueCertificate } from './create.ts'
import { writePair } from './files.ts'
import { loadCerts } from '../transport/mtls/material.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import { FileExistsError, UnsafeDevCertsError } from '../errors.ts'
import { X509Certificate } from 'node:crypto'
import { rolesOfCertificate } from '../trust/roles.ts'
import type { Role } from '../trust/roles.ts'

/** A dev node is everything a one-machine grid needs: a member that hosts workers and may administer it. */
const DEV_ROLES: readonly Role[] = ['member', 'agent', 'admin']

/**
 * Throwaway certificates for `--dev`: one CA per user per machine, in the
 * temp dir, shared by every dev node on this machine so they can talk to
 * each other. Never use it across machines: the CA key sits in /tmp.
 * The name is predictable, so the directory is used only when it is this
 * user's alone (see checkOwn): anyone could have made it first.
 */
export function devCertsDir (): string {
  return join(tmpdir(), `gridd-dev-${process.getuid?.() ?? 'user'}`)
}

/**
 * The dev certificate `name` (made once, then reused: same name, same identity). Without a name, a
 * throwaway identity (`throwaway: true`) kept in memory only: no later start could reuse a random name,
 * and each left a key pair in the dev dir for good (a test suite: hundreds).
 */
export async function devCerts (name?: string, dir = devCertsDir()): Promise<TlsMaterial & { dir: string, name: string, throwaway?: true }> {
  await ensureCa(dir)
  await checkOwn(dir, dir, 'directory')
  await checkOwn(join(dir, 'ca.crt'), dir, 'certificate')
  await checkOwn(join(dir, 'ca.key'), dir, 'key')
  const ca = { cert: await readFile(join(dir, 'ca.crt'), 'utf8'), key: await readFile(join(dir, 'ca.key'), 'utf8') }
  if (name == null) {
    const throwaway = `node-${randomBytes(4).toString('hex')}`
    return { ca: ca.cert, ...await issueCertificate(ca, { name: throwaway, roles: DEV_ROLES }), dir, name: throwaway, throwaway: true }
  }
  try {
    await writePair(dir, name, await issueCertificate(ca, { name, roles: DEV_ROLES }), false)
  } catch (err) {
    // a certificate of that name exists already: reuse it (same name, same identity)
    if (!(err instanceof FileExistsError)) throw err
  }
  await checkOwn(join(dir, `${name}.crt`), dir, 'certificate')
  await checkOwn(join(dir, `${name}.key`), dir, 'key')
  const certs = await loadCerts(dir, name)
  // one made before certificates carried roles: reissue it (a dev grid is throwaway)
  if (rolesOfCertificate(new X509Certificate(certs.cert)).size === 0) {
    await writePair(dir, name, await issueCertificate(ca, { name, roles: DEV_ROLES }), true)
    return { ...await loadCerts(dir, name), dir, name }
  }
  return { ...certs, dir, name }
}

/**
 * Creates the dev CA once, in a directory of mode 0700 (mkdtemp's) renamed into place; concurrent
 * starters race on that atomic rename and the loser uses the winner's.
 */
async function ensureCa (dir: string): Promise<void> {
  try {
    await lstat(join(dir, 'ca.crt'))
    return
  } catch {}
  await mkdir(tmpdir(), { recursive: true })
  const staging = await mkdtemp(`${dir}.staging-`)
  try {
    await writePair(staging, 'ca', await createCa({ commonName: 'gridd dev CA (throwaway)' }), false)
    await rename(staging, dir)
  } catch (err) {
    // there is a directory of that name now (another starter's, or another user's: checkOwn judges it)
    if (!await lstat(dir).then(() => true, () => false)) throw err
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

/**
 * Refuses (UnsafeDevCertsError) what is not this user's alone: a symbolic link, another type,
 * another owner, or group/other permission bits (a certificate may be readable by all, never writable).
 * Platforms without uids (Windows) have nothing to check here.
 */
async function checkOwn (path: string, dir: string, what: 'directory' | 'certificate' | 'key'): Promise<void> {
  const uid = process.getuid?.()
  if (uid == null) return
  const info = await lstat(path)
  if (info.isSymbolicLink()) throw new UnsafeDevCertsError(path, 'is a symbolic link', dir)
  if (what === 'directory' ? !info.isDirectory() : !info.isFile()) throw new UnsafeDevCertsError(path, `is not a ${what === 'directory' ? 'directory' : 'regular file'}`, dir)
  if (info.uid !== uid) throw new UnsafeDevCertsError(path, `is owned by uid ${info.uid}, not by this user (uid ${uid})`, dir)
  const open = info.mode & (what === 'certificate' ? 0o033 : 0o077)
  if (open !== 0) throw new UnsafeDevCertsError(path, `has mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}: group or others may ${what === 'directory' ? 'list or change it' : 'read or change it'}`, dir)
}
