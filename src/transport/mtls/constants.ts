/** Our own protocol id: a stock libp2p TLS peer (which accepts any self-signed cert) does not negotiate with us. */
export const PROTOCOL = '/gridd/mtls/1.0.0'
