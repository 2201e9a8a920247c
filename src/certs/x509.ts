// @peculiar/x509 depends on tsyringe, which needs the reflect polyfill loaded first.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(globalThis.crypto)

export { x509 }
