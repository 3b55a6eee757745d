import type { Endpoint } from '../../nat/ip.js';

/**
 * What quiche sees as the address of a peer reached by hole punching or through a relay: one
 * fixed address per session, whatever path carries its packets now. 240.0.0.0/4 is reserved and
 * never routed, so no real peer can have one; the packet layer translates both ways. As in iroh,
 * a path change (relay → direct) is then invisible to QUIC: no migration, nothing lost.
 */
const MAPPED_FIRST_OCTET = 240;
const MAPPED_PORT = 4433;

export function mappedAddress(index: number): Endpoint {
  const n = index & 0xffffff;
  return { address: `${MAPPED_FIRST_OCTET}.${n >> 16}.${(n >> 8) & 0xff}.${n & 0xff}`, port: MAPPED_PORT };
}

export function isMappedAddress(address: string): boolean {
  return address.startsWith(`${MAPPED_FIRST_OCTET}.`);
}

/** `address:port`, the key of the packet layer's tables. */
export function endpointKey(address: string, port: number): string {
  return `${address}:${port}`;
}
