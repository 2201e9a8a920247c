import { Command, Option } from 'commander'
import { resolve } from 'node:path'
import { intOption, logLevelOption, tlsOptions } from '../options.ts'
import { withClient } from '../client.ts'
import type { ClientFlags } from '../client.ts'
import { parsePeerAddress } from '../../transport/address.ts'
import { CrlError } from '../../errors.ts'
import { checkCaKeyFiles } from '../key-file.ts'

interface RevokeFlags extends ClientFlags {
  dir: string
  peer?: string
}

/** `grid certs revoke <name|serial>`: adds a certificate to the grid's CRL, and optionally hands the CRL to a node. */
export function revokeCommand (): Command {
  const cmd = new Command('revoke')
    .description('revoke a certificate: add it to <dir>/crl.pem (signed by the CA, its CRL number one higher); --peer hands the CRL to a node, which spreads it to the grid')
    .argument('<name|serial>', 'a certificate name in --dir (NAME.crt), the name or peer id of a node that joined with a token (--dir\'s ca/issued.json), or a hex serial number')
    .addOption(new Option('--dir <dir>', 'certificates directory holding the CA (ca.crt, ca/ca.key) and crl.pem').default('certs'))
    .addOption(new Option('--peer <addr>', 'a node to hand the CRL to (host:port or multiaddr), with the admin certificate'))
    .addOption(intOption('--timeout <ms>', 'give up on --peer after this long', 100, 600_000).default(10_000))
  for (const option of tlsOptions('admin', '"admin" in --certs, else in --dir')) cmd.addOption(option)
  return cmd
    .addOption(logLevelOption('warn'))
    .action(async (target: string, flags: RevokeFlags) => {
      const dir = resolve(flags.dir)
      // the CRL is signed with the CA key: refused, as everywhere a key is loaded, if group or others may read it
      await checkCaKeyFiles(dir)
      // certificate code (and @peculiar/x509) loads only for this command
      const { revokeInDir } = await import('../../certs/crl.ts')
      const result = await revokeInDir(dir, target)
      const what = result.name == null ? `serial ${result.serial}` : `"${result.name}" (serial ${result.serial}${result.peerId == null ? '' : `, peer id ${result.peerId}`})`
      process.stdout.write(result.added
        ? `revoked ${what}: wrote ${result.file} (CRL number ${result.crl.number}, ${result.crl.entries.length} revoked${droppedText(result.dropped)})\n`
        : `${what} was already revoked: ${result.file} unchanged (CRL number ${result.crl.number})\n`)
      if (flags.peer == null) return
      const peer = parsePeerAddress(flags.peer)
      const { pushCrl } = await import('../../trust/crl-protocol.ts')
      // handing out a CRL is an admin's (DESIGN §11); the admin certificate usually sits beside the CA
      const pushed = await withClient({ ...flags, certs: flags.certs ?? flags.dir }, flags.peer, async (libp2p, signal) => await pushCrl(libp2p, peer, result.crl, { signal }), 'admin')
      if (result.added && pushed.outcome !== 'accepted') {
        // the node keeps one CRL per number: a new entry under a number it holds already never reaches the grid
        throw new CrlError(`${flags.peer} holds CRL number ${pushed.number}, not older than this one (${result.crl.number}), and keeps it: ${what} is not revoked on the grid. ${result.file} is behind the grid's list (a copy of the CA directory revoked meanwhile, or a crl.pem restored or removed?): copy the newest crl.pem from a node's data dir over it and revoke again`)
      }
      process.stdout.write(pushed.outcome === 'accepted'
        ? `${flags.peer}: accepted CRL number ${pushed.number}; it spreads to the grid from there\n`
        : `${flags.peer}: already holds CRL number ${pushed.number}, not older than ${result.crl.number}\n`)
    })
}

/** The entries this CRL left out, by serial (at most 10 named): an operator sees which revocations the expiry ended. */
function droppedText (serials: string[]): string {
  if (serials.length === 0) return ''
  const named = serials.slice(0, 10).join(', ') + (serials.length > 10 ? ', …' : '')
  return `; ${serials.length} expired certificate${serials.length === 1 ? '' : 's'} no longer listed: ${named}`
}
