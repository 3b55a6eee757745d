import { timingSafeEqual } from 'node:crypto';
import type { Endpoint } from '../../nat/ip.js';
import { decodeStun, encodeStun, StunAttr } from '../../nat/stun.js';
import {
  findAttribute,
  readUsername,
  readXorMappedAddress,
  usernameAttribute,
  xorMappedAddressAttribute,
} from '../../nat/stun-attributes.js';
import { verifyIntegrity } from '../../nat/stun-integrity.js';

/**
 * Trickled candidates: after its direct path died (its NAT rebound, say), or when a session starts
 * on the relay (the address it registered may be stale), an agent tells the peer where it can be
 * reached now, over the session's relay link. The message is a STUN indication of
 * a private method (first byte 0x00–0x3f, so it never looks like QUIC, RFC 9443) carrying the
 * session id, the sender's random id, a generation number and the addresses as XOR-MAPPED-ADDRESS,
 * signed with MESSAGE-INTEGRITY-SHA256 under the session's probe key: only the peer can make one,
 * a reflected one (our own id) or a replayed one (an old generation) is dropped.
 */
export const TRICKLE_METHOD = 0x800;
/** Attribute types (comprehension-required, private range). */
export const TrickleAttr = {
  /** 8 random bytes per session end: tells the peer's messages from our own reflected back. */
  Sender: 0x7f01,
  /** uint32, rising with every message from one sender: older ones are replays. */
  Generation: 0x7f02,
} as const;

/** Addresses one message may carry, and that a session holds from trickling. */
export const MAX_TRICKLE_CANDIDATES = 8;
/** Nothing larger is parsed (8 IPv6 addresses and a long session id fit well within). */
export const MAX_TRICKLE_BYTES = 600;
export const SENDER_ID_LENGTH = 8;

export interface TrickleMessage {
  sessionId: string;
  sender: Buffer;
  generation: number;
  candidates: Endpoint[];
}

export type TrickleDecodeFailure =
  | 'oversized'
  | 'malformed'
  | 'wrong-session'
  | 'bad-signature'
  | 'too-many-candidates'
  | 'no-candidates';

export type TrickleDecodeResult =
  | { ok: true; message: TrickleMessage }
  | { ok: false; reason: TrickleDecodeFailure };

/** Whether a relayed datagram is a STUN message (a trickle) rather than QUIC. */
export function isTricklePacket(packet: Uint8Array): boolean {
  return packet.length > 0 && (packet[0]! & 0xc0) === 0;
}

export function encodeTrickle(message: TrickleMessage, key: Uint8Array, transactionId: Buffer): Buffer {
  if (message.candidates.length === 0 || message.candidates.length > MAX_TRICKLE_CANDIDATES) {
    throw new RangeError(`a trickle carries 1–${MAX_TRICKLE_CANDIDATES} candidates`);
  }
  if (message.sender.length !== SENDER_ID_LENGTH) throw new RangeError('a trickle sender id has 8 bytes');
  const generation = Buffer.alloc(4);
  generation.writeUInt32BE(message.generation);
  return encodeStun(
    {
      method: TRICKLE_METHOD,
      class: 'indication',
      transactionId,
      attributes: [
        usernameAttribute(message.sessionId),
        { type: TrickleAttr.Sender, value: message.sender },
        { type: TrickleAttr.Generation, value: generation },
        ...message.candidates.map((c) => xorMappedAddressAttribute(c, transactionId)),
      ],
    },
    { integrityKey: key, fingerprint: true },
  );
}

/** Checks size, format, session and signature (in that order, cheapest first); never throws. */
export function decodeTrickle(packet: Buffer, key: Uint8Array, sessionId: string): TrickleDecodeResult {
  if (packet.length > MAX_TRICKLE_BYTES) return { ok: false, reason: 'oversized' };
  const decoded = decodeStun(packet);
  if (!decoded.ok) return { ok: false, reason: 'malformed' };
  const m = decoded.message;
  if (m.method !== TRICKLE_METHOD || m.class !== 'indication') return { ok: false, reason: 'malformed' };
  const username = readUsername(m);
  if (username === undefined) return { ok: false, reason: 'malformed' };
  if (!safeEqual(username, sessionId)) return { ok: false, reason: 'wrong-session' };
  if (!verifyIntegrity(m, key)) return { ok: false, reason: 'bad-signature' };
  const sender = findAttribute(m, TrickleAttr.Sender);
  const generation = findAttribute(m, TrickleAttr.Generation);
  if (sender?.length !== SENDER_ID_LENGTH || generation?.length !== 4)
    return { ok: false, reason: 'malformed' };
  const addresses = m.attributes.filter((a) => a.type === StunAttr.XorMappedAddress);
  if (addresses.length > MAX_TRICKLE_CANDIDATES) return { ok: false, reason: 'too-many-candidates' };
  if (addresses.length === 0) return { ok: false, reason: 'no-candidates' };
  const candidates: Endpoint[] = [];
  for (const attribute of addresses) {
    const candidate = readXorAddress(attribute.value, m.transactionId);
    if (!candidate || candidate.port === 0) return { ok: false, reason: 'malformed' };
    candidates.push(candidate);
  }
  return {
    ok: true,
    message: { sessionId, sender: Buffer.from(sender), generation: generation.readUInt32BE(0), candidates },
  };
}

/** One XOR-MAPPED-ADDRESS value (readXorMappedAddress reads the first of a message only). */
function readXorAddress(value: Buffer, transactionId: Buffer): Endpoint | undefined {
  const attributes = [{ type: StunAttr.XorMappedAddress, value }];
  return readXorMappedAddress({ method: TRICKLE_METHOD, class: 'indication', transactionId, attributes });
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
