import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { KeyPermissionsError } from '../errors.ts'

/** As `readPemOrPath` tells them apart: PEM text as is, anything else a file path. */
export const isPemText = (value: string): boolean => value.includes('-----BEGIN')

/** Group and others: a key file with one of their bits set is refused (OpenSSH's rule for private keys). */
const GROUP_OR_OTHERS = 0o077

/**
 * Refuses a private key file that group or others may read or write
 * (`KeyPermissionsError`, exit 2, the message says `chmod 600 <file>`).
 * PEM text (a key given in the environment) is no file: nothing to check.
 * A missing file is left to the reader, whose error names it.
 */
export async function checkKeyFile (pathOrPem: string): Promise<void> {
  // Windows has no POSIX modes: stat reports 0o666 for every writable file
  if (isPemText(pathOrPem) || process.platform === 'win32') return
  let mode: number
  try {
    mode = (await stat(pathOrPem)).mode
  } catch {
    return
  }
  if ((mode & GROUP_OR_OTHERS) !== 0) throw new KeyPermissionsError(pathOrPem, mode)
}

/** The CA key of a certificates directory, wherever `grid certs` kept it (`DIR/ca/ca.key`, `DIR/ca.key`): refused as checkKeyFile refuses. */
export async function checkCaKeyFiles (certsDir: string): Promise<void> {
  for (const path of [join(certsDir, 'ca', 'ca.key'), join(certsDir, 'ca.key')]) await checkKeyFile(path)
}

/**
 * The CA private keys this process could read in a certificate directory:
 * `DIR/ca.key` (where `grid certs` kept it) and `DIR/ca/ca.key` (where it keeps it now).
 * A node never needs one; any stage on its machine running as its user could read it.
 */
export async function readableCaKeys (certsDir: string): Promise<string[]> {
  const found: string[] = []
  for (const path of [join(certsDir, 'ca.key'), join(certsDir, 'ca', 'ca.key')]) {
    try {
      await access(path, constants.R_OK)
      found.push(path)
    } catch {}
  }
  return found
}
