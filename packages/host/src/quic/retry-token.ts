import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const MAC_LEN = 32;
const TIME_LEN = 8;

/**
 * Stateless retry tokens: the server answers a client's first Initial with a Retry carrying a token
 * that proves, on the client's second Initial, that the client really receives packets at its
 * source address. The token is an HMAC over (time, address, original DCID, retry SCID); no state is
 * kept per unverified client, so spoofed Initials cost one HMAC and one small datagram.
 */
export class RetryTokens {
  private readonly key = randomBytes(32);

  constructor(private readonly lifetimeMs = 10_000) {}

  mint(address: string, port: number, odcid: Uint8Array, retryScid: Uint8Array): Buffer {
    const time = Buffer.allocUnsafe(TIME_LEN);
    time.writeBigUInt64BE(BigInt(Date.now()));
    const mac = this.mac(time, address, port, odcid, retryScid);
    return Buffer.concat([time, Buffer.from([odcid.length]), odcid, mac]);
  }

  /** Returns the original DCID when the token is authentic, fresh and bound to this address, else null. */
  validate(token: Uint8Array, address: string, port: number, dcid: Uint8Array): Buffer | null {
    const buf = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
    if (buf.length < TIME_LEN + 1 + MAC_LEN) return null;
    const odcidLen = buf[TIME_LEN]!;
    if (buf.length !== TIME_LEN + 1 + odcidLen + MAC_LEN) return null;
    const time = buf.subarray(0, TIME_LEN);
    const odcid = buf.subarray(TIME_LEN + 1, TIME_LEN + 1 + odcidLen);
    const mac = buf.subarray(TIME_LEN + 1 + odcidLen);
    if (!timingSafeEqual(mac, this.mac(time, address, port, odcid, dcid))) return null;
    const age = Date.now() - Number(time.readBigUInt64BE());
    if (age < 0 || age > this.lifetimeMs) return null;
    return Buffer.from(odcid);
  }

  private mac(time: Uint8Array, address: string, port: number, odcid: Uint8Array, scid: Uint8Array): Buffer {
    return createHmac('sha256', this.key)
      .update(time)
      .update(`${address}|${port}|`)
      .update(odcid)
      .update(scid)
      .digest();
  }
}
