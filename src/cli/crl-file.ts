import { readFile } from 'node:fs/promises'
import { CrlError } from '../errors.ts'

/** `--crl FILE`: its text; an unreadable file is a usage error (exit 2), as a CRL that does not verify is. */
export async function readCrlFlag (path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new CrlError(`cannot read the revocation list --crl ${path}: ${(err as Error).message}`, { cause: err })
  }
}
