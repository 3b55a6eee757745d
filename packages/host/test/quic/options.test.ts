import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUIC_OPTIONS,
  InvalidQuicOptionsError,
  quicOptionsSchema,
  resolveQuicOptions,
} from '../../src/quic/index.js';

describe('QUIC options', () => {
  const validate = new Ajv({ strict: true }).compile(quicOptionsSchema);

  it('accepts the defaults and partial overrides under the JSON schema', () => {
    expect(validate({ ...DEFAULT_QUIC_OPTIONS })).toBe(true);
    expect(validate({ maxUdpPayload: 16383, congestionControl: 'bbr2' })).toBe(true);
    expect(validate({})).toBe(true);
  });

  it('rejects out-of-range, mistyped and unknown options under the JSON schema', () => {
    expect(validate({ maxUdpPayload: 1199 })).toBe(false);
    expect(validate({ maxUdpPayload: 16384 })).toBe(false);
    expect(validate({ congestionControl: 'vegas' })).toBe(false);
    expect(validate({ idleTimeoutMs: '30s' })).toBe(false);
    expect(validate({ maxUdpPaylod: 1350 })).toBe(false);
  });

  it('fills defaults and keeps overrides', () => {
    const options = resolveQuicOptions({ maxUdpPayload: 9000, driver: 'inline' });
    expect(options).toEqual({ ...DEFAULT_QUIC_OPTIONS, maxUdpPayload: 9000, driver: 'inline' });
    expect(DEFAULT_QUIC_OPTIONS.maxConcurrentStreams).toBeGreaterThanOrEqual(128);
  });

  it('names the option that is out of range, and ignores keys that are not QUIC options', () => {
    expect(() => resolveQuicOptions({ maxUdpPayload: 100 })).toThrow(InvalidQuicOptionsError);
    expect(() => resolveQuicOptions({ keepAliveMs: 1.5 })).toThrow(/keepAliveMs/);
    expect(() => resolveQuicOptions({ congestionControl: 'vegas' as 'cubic' })).toThrow(/congestionControl/);
    expect(resolveQuicOptions({ host: '0.0.0.0', port: 7400 })).toEqual(DEFAULT_QUIC_OPTIONS);
  });
});
