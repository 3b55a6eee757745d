import { isIPv4, isIPv6 } from 'node:net';

/** A UDP transport address: an IP address literal and a port. */
export interface Endpoint {
  address: string;
  port: number;
}

/** The 4 or 16 bytes of an IP address literal (an IPv6 zone is dropped); undefined for anything else. */
export function ipToBytes(address: string): Buffer | undefined {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) return undefined;
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = ipv6Words(head);
  const right = tail === undefined ? [] : ipv6Words(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  for (const [i, word] of words.entries()) bytes.writeUInt16BE(word, i * 2);
  return bytes;
}

/** The 16-bit groups of one side of a valid IPv6 literal, an embedded IPv4 tail counting as two. */
function ipv6Words(part: string): number[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [Number.parseInt(group, 16)];
    const v4 = ipToBytes(group)!;
    return [v4.readUInt16BE(0), v4.readUInt16BE(2)];
  });
}

/**
 * The text of a 4- or 16-byte address: dotted IPv4, or RFC 5952 IPv6 (lower case, the longest
 * run of zero groups shortened to ::), IPv4-mapped ones as ::ffff:a.b.c.d the way Node prints them.
 */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  if (isIpv4Mapped(bytes)) return `::ffff:${bytes.subarray(12).join('.')}`;
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
  const zeros = longestZeroRun(words);
  if (zeros.length < 2) return words.join(':');
  return `${words.slice(0, zeros.start).join(':')}::${words.slice(zeros.start + zeros.length).join(':')}`;
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function longestZeroRun(words: string[]): { start: number; length: number } {
  let best = { start: 0, length: 0 };
  let start = -1;
  words.forEach((word, i) => {
    if (word !== '0') {
      start = -1;
      return;
    }
    if (start < 0) start = i;
    if (i - start + 1 > best.length) best = { start, length: i - start + 1 };
  });
  return best;
}

/**
 * One spelling per address, for comparing them: IPv4-mapped IPv6 addresses (what a dual-stack
 * socket reports for IPv4 peers) as plain IPv4, IPv6 in RFC 5952 form; undefined for non-literals.
 */
export function canonicalIp(address: string): string | undefined {
  const bytes = ipToBytes(address);
  return bytes && bytesToIp(unmapIpv4(bytes));
}

/** The IPv4 address inside an IPv4-mapped IPv6 one; any other address as it is. */
export function unmapIpv4(bytes: Buffer): Buffer {
  return bytes.length === 16 && isIpv4Mapped(bytes) ? bytes.subarray(12) : bytes;
}

/** Whether two endpoints are the same address (in any spelling) and port. */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && (canonicalIp(a.address) ?? a.address) === (canonicalIp(b.address) ?? b.address);
}
