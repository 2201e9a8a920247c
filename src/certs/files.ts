import { constants } from 'node:fs'
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCa, issueCertificate, checkName } from './create.ts'
import type { CertKeyPair, CreateCaOptions } from './create.ts'
import { CertificateError, FileExistsError } from '../errors.ts'

export interface CertsDirOptions {
  /** Overwrite existing files. */
  force?: boolean
  validityDays?: number
}

export interface InitResult {
  dir: string
  files: string[]
}

/** `grid certs init`: a CA, a first node certificate (`node`) and a client certificate (`client`). */
export async function initCertsDir (dir: string, options: CertsDirOptions & { ca?: CreateCaOptions } = {}): Promise<InitResult> {
  const names = ['ca', 'node', 'client']
  if (options.force !== true) await refuseExisting(dir, names)
  await mkdir(dir, { recursive: true, mode: 0o755 })
  const ca = await createCa(options.ca)
  const files = await writePair(dir, 'ca', ca, true)
  for (const name of ['node', 'client']) {
    const pair = await issueCertificate(ca, { name, validityDays: options.validityDays })
    files.push(...await writePair(dir, name, pair, true))
  }
  return { dir, files }
}

/** `grid certs issue <name>`: one more certificate signed by the CA in `dir`. */
export async function issueIntoDir (dir: string, name: string, options: CertsDirOptions = {}): Promise<InitResult> {
  checkName(name)
  // case-insensitive: on macOS or Windows "CA.crt" is ca.crt
  if (name.toLowerCase() === 'ca') throw new CertificateError('"ca" is the CA\'s own file name; choose another name')
  const ca = await readCaPair(dir)
  if (options.force !== true) await refuseExisting(dir, [name])
  const pair = await issueCertificate(ca, { name, validityDays: options.validityDays })
  return { dir, files: await writePair(dir, name, pair, options.force === true) }
}

async function readCaPair (dir: string): Promise<CertKeyPair> {
  try {
    return {
      cert: await readFile(join(dir, 'ca.crt'), 'utf8'),
      key: await readFile(join(dir, 'ca.key'), 'utf8')
    }
  } catch (err) {
    throw new CertificateError(`cannot read the CA in ${dir} (ca.crt and ca.key); run \`grid certs init --dir ${dir}\` first`, { cause: err })
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
