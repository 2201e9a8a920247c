// @peculiar/x509 depends on tsyringe, which needs the reflect polyfill loaded first.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

/**
 * Node's own WebCrypto, passed explicitly to every x509 call: the library's
 * global provider is shared, and @libp2p/tls replaces it with a polyfill
 * whose keys are not Node CryptoKeys, so relying on it depends on import order.
 */
export const webcrypto: Crypto = globalThis.crypto

export { x509 }
