import { constants, existsSync } from 'node:fs'
import { chmod, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCa, issueCertificate, checkName } from './create.ts'
import type { CertKeyPair, CreateCaOptions } from './create.ts'
import { CertificateError, CertsDirError, ConfigError, FileExistsError } from '../errors.ts'
import { makeDir } from '../make-dir.ts'
import type { Role } from '../trust/roles.ts'

export interface CertsDirOptions {
  /** Overwrite existing files. */
  force?: boolean
  validityDays?: number
}

export interface IssueIntoDirOptions extends CertsDirOptions {
  /** Default `['member']`. */
  roles?: readonly Role[]
}

/**
 * Where `grid certs init` keeps the CA's private key: a 0700 directory of its
 * own, apart from what nodes read (`ca.crt` and their own pair), so handing a
 * machine its files never means handing it the key that mints members.
 */
export const CA_KEY_DIR = 'ca'

/** What `grid certs init` makes: each certificate's name and roles (DESIGN §11). */
export const INIT_CERTIFICATES: ReadonlyArray<{ name: string, roles: readonly Role[] }> = [
  { name: 'node', roles: ['member', 'agent'] },
  { name: 'client', roles: ['client'] },
  { name: 'admin', roles: ['admin'] }
]

export interface InitResult {
  dir: string
  files: string[]
}

/**
 * `grid certs init`: a CA (`ca.crt`, its key in `ca/ca.key`), a node certificate
 * (`node`: member, agent), a CLI client certificate (`client`) and an admin one (`admin`).
 */
export async function initCertsDir (dir: string, options: CertsDirOptions & { ca?: CreateCaOptions } = {}): Promise<InitResult> {
  if (options.force !== true) {
    await refuseExisting(dir, ['ca', ...INIT_CERTIFICATES.map(c => c.name)])
    const key = join(dir, CA_KEY_DIR, 'ca.key')
    if (await exists(key)) throw new FileExistsError(key)
  }
  await makeDir(join(dir, CA_KEY_DIR), 0o700, {
    path: (why, cause) => new ConfigError('dir', `${why}; pick another --dir`, { cause }),
    disk: cause => new CertsDirError(dir, { cause })
  })
  await chmod(join(dir, CA_KEY_DIR), 0o700)
  const ca = await createCa(options.ca)
  const files = [join(dir, CA_KEY_DIR, 'ca.key'), join(dir, 'ca.crt')]
  await writeFileMode(files[0]!, ca.key, 0o600, true)
  await writeFileMode(files[1]!, ca.cert, 0o644, true)
  for (const { name, roles } of INIT_CERTIFICATES) {
    const pair = await issueCertificate(ca, { name, roles, validityDays: options.validityDays })
    files.push(...await writePair(dir, name, pair, true))
  }
  return { dir, files }
}

/** `grid certs issue <name>`: one more certificate signed by the CA in `dir`. */
export async function issueIntoDir (dir: string, name: string, options: IssueIntoDirOptions = {}): Promise<InitResult> {
  checkName(name)
  // case-insensitive: on macOS or Windows "CA.crt" is ca.crt
  if (name.toLowerCase() === 'ca') throw new CertificateError('"ca" is the CA\'s own file name; choose another name')
  const ca = await readCaPair(dir)
  if (options.force !== true) await refuseExisting(dir, [name])
  const pair = await issueCertificate(ca, { name, roles: options.roles, validityDays: options.validityDays })
  return { dir, files: await writePair(dir, name, pair, options.force === true) }
}

/**
 * The directory of a certificates directory's CA key: `<dir>/ca` (grid certs init), or `<dir>`
 * itself when the key sits beside ca.crt (the layout before roles); undefined when neither holds one.
 */
export function caKeyDirOf (certsDir: string): string | undefined {
  return [join(certsDir, CA_KEY_DIR), certsDir].find(dir => existsSync(join(dir, 'ca.key')))
}

/** The CA of `dir`: `ca.crt`, and its key from `ca/ca.key` (or `ca.key` beside it, the layout before roles). */
export async function readCaPair (dir: string): Promise<CertKeyPair> {
  try {
    const cert = await readFile(join(dir, 'ca.crt'), 'utf8')
    const key = await readFile(join(caKeyDirOf(dir) ?? join(dir, CA_KEY_DIR), 'ca.key'), 'utf8')
    return { cert, key }
  } catch (err) {
    throw new CertificateError(`cannot read the CA in ${dir} (ca.crt and ${CA_KEY_DIR}/ca.key); run \`grid certs init --dir ${dir}\` first`, { cause: err })
  }
}

async function refuseExisting (dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    for (const ext of ['crt', 'key']) {
      const path = join(dir, `${name}.${ext}`)
      if (await exists(path)) throw new FileExistsError(path)
    }
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close()
    return true
  } catch {
    return false
  }
}

/** Certificates are world-readable; keys are 0600 from the moment they exist. */
export async function writePair (dir: string, name: string, pair: CertKeyPair, overwrite: boolean): Promise<string[]> {
  const crt = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  await writeFileMode(key, pair.key, 0o600, overwrite)
  await writeFileMode(crt, pair.cert, 0o644, overwrite)
  return [crt, key]
}

async function writeFileMode (path: string, text: string, mode: number, overwrite: boolean): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | (overwrite ? constants.O_TRUNC : constants.O_EXCL)
  let handle
  try {
    handle = await open(path, flags, mode)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(path)
    throw err
  }
  try {
    await handle.chmod(mode)
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
}
