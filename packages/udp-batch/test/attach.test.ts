import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, ENV_SWITCH } from '../src/index.js';
import { boundSocket, closeAll, receiveWithBatch, segments } from './sockets.js';

const linux = process.platform === 'linux';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  delete process.env[ENV_SWITCH];
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('attach', () => {
  it.skipIf(!linux)(
    `falls back to node:dgram with ${ENV_SWITCH}=off, through the same interface`,
    async () => {
      process.env[ENV_SWITCH] = 'off';
      const socket = await boundSocket('udp4');
      cleanups.push(() => closeAll(socket));
      const io = attach(socket);
      cleanups.push(() => io.close());
      expect([io.path, io.unavailableReason]).toEqual(['dgram', `disabled by ${ENV_SWITCH}=off`]);
      const buf = segments(3, 100, 50);
      const arriving = receiveWithBatch(io, 3);
      expect(io.sendSegments(buf, 0, buf.length, 100, '127.0.0.1', socket.address().port)).toBe(0);
      expect((await arriving).map((d) => d.data)).toEqual([
        buf.subarray(0, 100),
        buf.subarray(100, 200),
        buf.subarray(200),
      ]);
      expect(io.counters).toEqual({ batched: 0, calls: 0, handedOff: 3, reads: 3 });
    },
  );

  it.skipIf(!linux)(`keeps sendmmsg without GSO with ${ENV_SWITCH}=no-gso`, async () => {
    process.env[ENV_SWITCH] = 'no-gso';
    const socket = await boundSocket('udp6');
    cleanups.push(() => closeAll(socket));
    const io = attach(socket);
    cleanups.push(() => io.close());
    expect([io.path, io.gsoOffReason]).toEqual(['sendmmsg', `disabled by ${ENV_SWITCH}=no-gso`]);
  });

  it('says why an unbound socket cannot be batched', () => {
    const socket = dgram.createSocket('udp4');
    cleanups.push(() => socket.close());
    const io = attach(socket);
    expect(io.path).toBe('dgram');
    expect(io.unavailableReason).toBe(
      linux ? 'the socket is not bound' : `${process.platform} has no sendmmsg/UDP GSO`,
    );
  });
});
