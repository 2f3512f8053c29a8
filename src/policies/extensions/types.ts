/** The permessage-deflate choice in a config (RFC 7692). `enabled` arrives with its own issue. */
export interface DeflateSpec<K extends 'disabled' | 'enabled' = 'disabled' | 'enabled'> {
  readonly kind: K;
}
