import { fingerprintOf, integrityMac } from './stun-integrity.js';

/** RFC 8489 §5: the fixed second word of every STUN header; 0x2112 is also the port XOR mask. */
export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
export const TRANSACTION_ID_LENGTH = 12;
/** The only method this package speaks. */
export const BINDING = 0x001;

/** Attribute types (RFC 8489 §18.3) that this codec reads or writes. */
export const StunAttr = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  MessageIntegritySha256: 0x001c,
  XorMappedAddress: 0x0020,
  Software: 0x8022,
  Fingerprint: 0x8028,
} as const;

export type StunClass = 'request' | 'indication' | 'success' | 'error';

const CLASS_BITS: Record<StunClass, number> = {
  request: 0x0000,
  indication: 0x0010,
  success: 0x0100,
  error: 0x0110,
};

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  /** 12-bit method, BINDING here. */
  method: number;
  class: StunClass;
  /** 12 random bytes that pair a response with its request. */
  transactionId: Buffer;
  /**
   * In order, without MESSAGE-INTEGRITY-SHA256 and FINGERPRINT: encodeStun adds those from its
   * options, and decodeStun checks them and leaves out what follows an integrity attribute.
   */
  attributes: readonly StunAttribute[];
}

export interface DecodedStunMessage extends StunMessage {
  /** The datagram it came from; attribute values are views into it. */
  packet: Buffer;
  /** Where MESSAGE-INTEGRITY-SHA256 starts in `packet`, when there is one (see verifyIntegrity). */
  integrityOffset: number | undefined;
  /** Whether it ended in a FINGERPRINT (always a correct one: a wrong one fails decoding). */
  fingerprint: boolean;
}

export type StunDecodeFailure = 'not-stun' | 'truncated-attribute' | 'bad-fingerprint';

export type StunDecodeResult =
  | { ok: true; message: DecodedStunMessage }
  | { ok: false; reason: StunDecodeFailure };

export interface StunEncodeOptions {
  /** Appends MESSAGE-INTEGRITY-SHA256 keyed with this (RFC 8489 §14.6). */
  integrityKey?: Uint8Array;
  /** Appends FINGERPRINT (RFC 8489 §14.7), last. */
  fingerprint?: boolean;
}

const MAX_ATTRIBUTE_VALUE = 0xffff;

/**
 * The RFC 9443 demultiplexing test plus header sanity: first two bits zero, magic cookie, and a
 * length field that is a multiple of 4 and accounts for exactly the rest of the datagram.
 */
export function isStunPacket(packet: Buffer): boolean {
  if (packet.length < HEADER_LENGTH || (packet[0]! & 0xc0) !== 0) return false;
  const length = packet.readUInt16BE(2);
  return (
    length % 4 === 0 && length === packet.length - HEADER_LENGTH && packet.readUInt32BE(4) === MAGIC_COOKIE
  );
}

/** Parses one datagram; never throws. Attribute values are views into `packet`, not copies. */
export function decodeStun(packet: Buffer): StunDecodeResult {
  if (!isStunPacket(packet)) return { ok: false, reason: 'not-stun' };
  const type = packet.readUInt16BE(0);
  const attributes: StunAttribute[] = [];
  let integrityOffset: number | undefined;
  let pastIntegrity = false;
  let fingerprint = false;
  // Both the offset and the packet length are multiples of 4, so a header always fits.
  for (let offset = HEADER_LENGTH; offset < packet.length; ) {
    const attrType = packet.readUInt16BE(offset);
    const end = offset + 4 + packet.readUInt16BE(offset + 2);
    if (end > packet.length) return { ok: false, reason: 'truncated-attribute' };
    if (attrType === StunAttr.Fingerprint) {
      if (end !== packet.length || end - offset !== 8) return { ok: false, reason: 'bad-fingerprint' };
      if (packet.readUInt32BE(offset + 4) !== fingerprintOf(packet, offset)) {
        return { ok: false, reason: 'bad-fingerprint' };
      }
      fingerprint = true;
    } else if (attrType === StunAttr.MessageIntegritySha256) {
      integrityOffset ??= offset;
      pastIntegrity = true;
    } else if (!pastIntegrity) {
      // §14: only the integrity attributes and FINGERPRINT count after a MESSAGE-INTEGRITY.
      attributes.push({ type: attrType, value: packet.subarray(offset + 4, end) });
      if (attrType === StunAttr.MessageIntegrity) pastIntegrity = true;
    }
    offset = end + padding(end);
  }
  return {
    ok: true,
    message: {
      method: (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80),
      class: classOf(type),
      transactionId: packet.subarray(8, HEADER_LENGTH),
      attributes,
      packet,
      integrityOffset,
      fingerprint,
    },
  };
}

function classOf(type: number): StunClass {
  const bits = type & 0x0110;
  return bits === 0 ? 'request' : bits === 0x0010 ? 'indication' : bits === 0x0100 ? 'success' : 'error';
}

/** Bytes of padding after `length` bytes of value, to the next 4-byte boundary. */
function padding(length: number): number {
  return (4 - (length % 4)) % 4;
}

/** Builds one datagram; throws a RangeError for a message no receiver could parse. */
export function encodeStun(message: StunMessage, options: StunEncodeOptions = {}): Buffer {
  checkEncodable(message);
  const trailer = (options.integrityKey ? 4 + 32 : 0) + (options.fingerprint ? 8 : 0);
  const size = message.attributes.reduce(
    (sum, a) => sum + 4 + a.value.length + padding(a.value.length),
    HEADER_LENGTH + trailer,
  );
  if (size - HEADER_LENGTH > 0xffff) throw new RangeError(`a STUN message of ${size} bytes is too long`);
  const packet = Buffer.alloc(size);
  packet.writeUInt16BE(messageType(message.method, message.class), 0);
  packet.writeUInt16BE(size - HEADER_LENGTH, 2);
  packet.writeUInt32BE(MAGIC_COOKIE, 4);
  message.transactionId.copy(packet, 8);
  let offset = HEADER_LENGTH;
  for (const attribute of message.attributes) offset = writeAttribute(packet, offset, attribute);
  if (options.integrityKey) {
    const mac = integrityMac(packet, offset, 32, options.integrityKey);
    offset = writeAttribute(packet, offset, { type: StunAttr.MessageIntegritySha256, value: mac });
  }
  if (options.fingerprint) {
    const value = Buffer.alloc(4);
    value.writeUInt32BE(fingerprintOf(packet, offset));
    writeAttribute(packet, offset, { type: StunAttr.Fingerprint, value });
  }
  return packet;
}

function checkEncodable(message: StunMessage): void {
  if (!Number.isInteger(message.method) || message.method < 0 || message.method > 0xfff) {
    throw new RangeError(`STUN method ${message.method} is not a 12-bit number`);
  }
  if (!Object.hasOwn(CLASS_BITS, message.class)) throw new RangeError(`unknown STUN class ${message.class}`);
  if (message.transactionId.length !== TRANSACTION_ID_LENGTH) {
    throw new RangeError(`a STUN transaction id has 12 bytes, not ${message.transactionId.length}`);
  }
  for (const { type, value } of message.attributes) {
    if (!Number.isInteger(type) || type < 0 || type > 0xffff) {
      throw new RangeError(`STUN attribute type ${type} is not a 16-bit number`);
    }
    if (type === StunAttr.MessageIntegritySha256 || type === StunAttr.Fingerprint) {
      throw new RangeError('MESSAGE-INTEGRITY-SHA256 and FINGERPRINT come from the encode options');
    }
    if (value.length > MAX_ATTRIBUTE_VALUE) {
      throw new RangeError(`a STUN attribute value of ${value.length} bytes is too long`);
    }
  }
}

function messageType(method: number, cls: StunClass): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | CLASS_BITS[cls];
}

/** Writes a type-length-value with zero padding; returns the offset after it. */
function writeAttribute(packet: Buffer, offset: number, { type, value }: StunAttribute): number {
  packet.writeUInt16BE(type, offset);
  packet.writeUInt16BE(value.length, offset + 2);
  value.copy(packet, offset + 4);
  return offset + 4 + value.length + padding(value.length);
}
