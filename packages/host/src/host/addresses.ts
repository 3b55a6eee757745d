import { networkInterfaces } from 'node:os';

/**
 * The addresses to advertise for a socket bound to `host`: the address itself, or, for a
 * wildcard bind, every IPv4 interface address with the non-loopback ones first.
 */
export function advertisedAddresses(host: string, port: number): Array<{ address: string; port: number }> {
  if (host !== '0.0.0.0' && host !== '::') return [{ address: host, port }];
  const all = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.family === 'IPv4');
  const sorted = [...all.filter((i) => !i?.internal), ...all.filter((i) => i?.internal)];
  return sorted.map((i) => ({ address: (i as { address: string }).address, port }));
}
