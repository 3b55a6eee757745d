import { bytesToIp, type Endpoint, ipToBytes, unmapIpv4 } from './ip.js';
import { MAGIC_COOKIE, StunAttr, type StunAttribute, type StunMessage } from './stun.js';

/** RFC 8489 §14.3/§14.8/§14.14: what a sender may write, and what a receiver must still accept. */
const MAX_TEXT_CHARACTERS = 128;
const MAX_TEXT_BYTES_SENT = 509;
const MAX_TEXT_BYTES_READ = 763;

const FAMILY_IPV4 = 0x01;
const FAMILY_IPV6 = 0x02;

/**
 * The comprehension-required attributes (types below 0x8000) a Binding request may carry that
 * this package knows what to do with, if only to ignore them.
 */
export const UNDERSTOOD_ATTRIBUTES: ReadonlySet<number> = new Set([
  StunAttr.MappedAddress,
  StunAttr.Username,
  StunAttr.MessageIntegrity,
  StunAttr.ErrorCode,
  StunAttr.UnknownAttributes,
  StunAttr.MessageIntegritySha256,
  StunAttr.XorMappedAddress,
]);

/** The first value of an attribute type (§14: later repeats need not be processed). */
export function findAttribute(message: StunMessage, type: number): Buffer | undefined {
  return message.attributes.find((a) => a.type === type)?.value;
}

/** The comprehension-required attribute types in `message` that are not in `understood`. */
export function unknownRequiredAttributes(
  message: StunMessage,
  understood: ReadonlySet<number> = UNDERSTOOD_ATTRIBUTES,
): number[] {
  const unknown = message.attributes.map((a) => a.type).filter((t) => t < 0x8000 && !understood.has(t));
  return [...new Set(unknown)];
}

/** XOR-MAPPED-ADDRESS (§14.2) for `endpoint`; an IPv4-mapped IPv6 address is written as IPv4. */
export function xorMappedAddressAttribute(endpoint: Endpoint, transactionId: Buffer): StunAttribute {
  const parsed = ipToBytes(endpoint.address);
  if (parsed === undefined) throw new RangeError(`${endpoint.address} is not an IP address`);
  const ip = unmapIpv4(parsed);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 0xffff) {
    throw new RangeError(`${endpoint.port} is not a port`);
  }
  const value = Buffer.alloc(4 + ip.length);
  value[1] = ip.length === 4 ? FAMILY_IPV4 : FAMILY_IPV6;
  value.writeUInt16BE(endpoint.port ^ (MAGIC_COOKIE >>> 16), 2);
  xorInto(value.subarray(4), ip, addressMask(transactionId));
  return { type: StunAttr.XorMappedAddress, value };
}

/** The XOR-MAPPED-ADDRESS of `message`; undefined when absent or malformed. */
export function readXorMappedAddress(message: StunMessage): Endpoint | undefined {
  const value = findAttribute(message, StunAttr.XorMappedAddress);
  return value && readAddress(value, addressMask(message.transactionId));
}

/** The MAPPED-ADDRESS (§14.1) of `message`, which old servers send instead; undefined when absent or malformed. */
export function readMappedAddress(message: StunMessage): Endpoint | undefined {
  const value = findAttribute(message, StunAttr.MappedAddress);
  return value && readAddress(value);
}

/** The magic cookie and then the transaction id: what XOR-MAPPED-ADDRESS masks addresses with. */
function addressMask(transactionId: Buffer): Buffer {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE);
  transactionId.copy(mask, 4);
  return mask;
}

function xorInto(target: Buffer, source: Buffer, mask: Buffer): void {
  for (let i = 0; i < source.length; i++) target[i] = source[i]! ^ mask[i]!;
}

function readAddress(value: Buffer, mask?: Buffer): Endpoint | undefined {
  const family = value[1];
  const size = family === FAMILY_IPV4 ? 4 : family === FAMILY_IPV6 ? 16 : 0;
  if (size === 0 || value.length !== 4 + size) return undefined;
  const ip = Buffer.from(value.subarray(4));
  let port = value.readUInt16BE(2);
  if (mask) {
    xorInto(ip, ip, mask);
    port ^= MAGIC_COOKIE >>> 16;
  }
  return { address: bytesToIp(ip), port };
}

export function usernameAttribute(username: string): StunAttribute {
  return { type: StunAttr.Username, value: textValue('USERNAME', username, Number.POSITIVE_INFINITY) };
}

export function readUsername(message: StunMessage): string | undefined {
  return readText(findAttribute(message, StunAttr.Username));
}

export function softwareAttribute(software: string): StunAttribute {
  return { type: StunAttr.Software, value: textValue('SOFTWARE', software, MAX_TEXT_CHARACTERS) };
}

export function readSoftware(message: StunMessage): string | undefined {
  return readText(findAttribute(message, StunAttr.Software));
}

export interface StunErrorCode {
  /** 300–699. */
  code: number;
  reason: string;
}

/** ERROR-CODE (§14.8). */
export function errorCodeAttribute({ code, reason }: StunErrorCode): StunAttribute {
  if (!Number.isInteger(code) || code < 300 || code > 699) {
    throw new RangeError(`STUN error code ${code} is not within 300–699`);
  }
  const text = textValue('ERROR-CODE reason', reason, MAX_TEXT_CHARACTERS);
  const value = Buffer.alloc(4 + text.length);
  value[2] = Math.floor(code / 100);
  value[3] = code % 100;
  text.copy(value, 4);
  return { type: StunAttr.ErrorCode, value };
}

/** The ERROR-CODE of `message`; undefined when absent or malformed. */
export function readErrorCode(message: StunMessage): StunErrorCode | undefined {
  const value = findAttribute(message, StunAttr.ErrorCode);
  if (value === undefined || value.length < 4) return undefined;
  const hundreds = value[2]! & 0x07;
  const rest = value[3]!;
  const reason = readText(value.subarray(4));
  if (hundreds < 3 || hundreds > 6 || rest > 99 || reason === undefined) return undefined;
  return { code: hundreds * 100 + rest, reason };
}

/** UNKNOWN-ATTRIBUTES (§14.9), for a 420 response. */
export function unknownAttributesAttribute(types: readonly number[]): StunAttribute {
  const value = Buffer.alloc(types.length * 2);
  for (const [i, type] of types.entries()) value.writeUInt16BE(type, i * 2);
  return { type: StunAttr.UnknownAttributes, value };
}

/** The types listed in UNKNOWN-ATTRIBUTES; undefined when absent or malformed. */
export function readUnknownAttributes(message: StunMessage): number[] | undefined {
  const value = findAttribute(message, StunAttr.UnknownAttributes);
  if (value === undefined || value.length % 2 !== 0) return undefined;
  return Array.from({ length: value.length / 2 }, (_, i) => value.readUInt16BE(i * 2));
}

function textValue(what: string, text: string, maxCharacters: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length >= MAX_TEXT_BYTES_SENT || [...text].length >= maxCharacters) {
    throw new RangeError(`${what} is too long`);
  }
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readText(value: Buffer | undefined): string | undefined {
  if (value === undefined || value.length > MAX_TEXT_BYTES_READ) return undefined;
  try {
    return utf8.decode(value);
  } catch {
    return undefined;
  }
}
