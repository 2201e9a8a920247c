/** Default lifetimes, apart from the certificate code so the CLI can show them without loading @peculiar/x509. */
export const DEFAULT_CA_VALIDITY_DAYS = 3650
export const DEFAULT_CERT_VALIDITY_DAYS = 825
