import { defineAddon } from '../addons/addon.ts'
import type { CertKeyPair } from '../certs/create.ts'
import { JoinIssuer } from './issuer.ts'
import type { TokenStore } from './token-store.ts'

export interface JoinServiceOptions {
  /** The grid CA certificate and its private key (`grid node --ca-key FILE`). */
  ca: CertKeyPair
  /** This node's certificate and key, presented by the join listener. */
  server: CertKeyPair
  tokens: TokenStore
  /** Listen address of the join listener (default 0.0.0.0: joiners come from other machines). */
  host?: string
  port: number
  validityDays?: number
}

/** `grid node --ca-key FILE`: this node signs certificates for nodes that join with a token (see JoinIssuer). */
export const joinServiceAddon = defineAddon<JoinServiceOptions>({
  name: 'join-service',
  async start (ctx, options) {
    const issuer = new JoinIssuer({
      ca: options.ca,
      server: options.server,
      tokens: options.tokens,
      host: options.host ?? '0.0.0.0',
      port: options.port,
      addresses: () => ctx.addresses,
      log: ctx.log,
      validityDays: options.validityDays
    })
    const bound = await issuer.start()
    return { port: bound.port, stop: async () => { await issuer.stop() } }
  }
})
