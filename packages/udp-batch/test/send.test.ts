import { afterEach, describe, expect, it } from 'vitest';
import { attach, type BatchUdp } from '../src/index.js';
import { boundSocket, closeAll, LOOPBACK, MODES, receiveWithDgram, segments } from './sockets.js';

const linux = process.platform === 'linux';
const opened: Array<{ close(): void }> = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const io of opened.splice(0)) io.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function pair(type: 'udp4' | 'udp6', options: Parameters<typeof attach>[1]) {
  const sender = await boundSocket(type);
  const receiver = await boundSocket(type);
  cleanups.push(() => closeAll(sender, receiver));
  const io: BatchUdp = attach(sender, options);
  opened.push(io);
  return { sender, receiver, io, to: receiver.address().port };
}

describe.skipIf(!linux).each(MODES)('sending via $path', ({ path, options }) => {
  it.each(['udp4', 'udp6'] as const)(
    'sendSegments arrives as one datagram per segment (%s)',
    async (type) => {
      const { sender, receiver, io, to } = await pair(type, options);
      expect(io.path).toBe(path);
      // 100 full segments need three GSO sends of at most 48 × 1350 bytes; the last segment is short.
      const buf = segments(101, 1350, 200);
      const arriving = receiveWithDgram(receiver, 101);
      io.sendSegments(buf, 0, buf.length, 1350, LOOPBACK[type], to);
      const got = await arriving;
      expect(got.map((d) => d.data.length)).toEqual([...Array(100).fill(1350), 200]);
      got.forEach((d, i) => {
        expect(d.data.equals(buf.subarray(i * 1350, i * 1350 + d.data.length))).toBe(true);
        expect(d.port).toBe(sender.address().port);
      });
      const calls = { gso: 3, sendmmsg: 2, dgram: 0 }[path];
      expect(io.counters).toEqual({
        batched: path === 'dgram' ? 0 : 101,
        calls,
        handedOff: path === 'dgram' ? 101 : 0,
        reads: 0,
      });
    },
  );

  it('sendMany reaches two destinations, in order, from a slice of each buffer', async () => {
    const { io, receiver: first } = await pair('udp4', options);
    const second = await boundSocket('udp4');
    cleanups.push(() => closeAll(second));
    const buf = segments(6, 100);
    const packets = [0, 1, 2, 3, 4, 5].map((i) => ({
      buf,
      offset: i * 100 + 1,
      length: 99,
      address: '127.0.0.1',
      port: (i % 2 === 0 ? first : second).address().port,
    }));
    const toFirst = receiveWithDgram(first, 3);
    const toSecond = receiveWithDgram(second, 3);
    expect(io.sendMany(packets)).toBe(path === 'dgram' ? 0 : 6);
    expect((await toFirst).map((d) => d.data)).toEqual(
      [0, 2, 4].map((i) => buf.subarray(i * 100 + 1, i * 100 + 100)),
    );
    expect((await toSecond).map((d) => d.data)).toEqual(
      [1, 3, 5].map((i) => buf.subarray(i * 100 + 1, i * 100 + 100)),
    );
  });
});

describe.skipIf(!linux)('when the kernel refuses', () => {
  it('part of a batch, what it took arrives once and the rest goes through node:dgram, in order', async () => {
    const { receiver, io, to } = await pair('udp4', {});
    const small = segments(5, 10);
    const tooBig = Buffer.alloc(65_508); // one byte over the largest IPv4 UDP payload
    const packet = (buf: Buffer, offset: number, length: number) => ({
      buf,
      offset,
      length,
      address: '127.0.0.1',
      port: to,
    });
    const arriving = receiveWithDgram(receiver, 5);
    const packets = [
      packet(small, 0, 10),
      packet(small, 10, 10),
      packet(tooBig, 0, tooBig.length),
      packet(small, 20, 10),
    ];
    expect(io.sendMany(packets)).toBe(2);
    expect(io.lastSendError).toBe('EMSGSIZE');
    expect(io.idle()).toBe(false);
    // Queued behind node:dgram: not overtaken by a batch.
    expect(io.sendSegments(small, 30, 20, 10, '127.0.0.1', to)).toBe(0);
    expect(io.counters).toMatchObject({ batched: 2, handedOff: 4 });
    const got = await arriving;
    expect(got.map((d) => d.data[0])).toEqual([0, 1, 2, 3, 4]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(got).toHaveLength(5);
    expect(io.idle()).toBe(true);
    expect(io.sendSegments(small, 0, 10, 10, '127.0.0.1', to)).toBe(1);
  });

  it('GSO, it turns GSO off for good, says why, and sends those datagrams without it', async () => {
    const { sender, receiver, io, to } = await pair('udp4', {});
    const { loadBinding } = await import('../src/binding.js');
    const { dgramHandle } = await import('../src/dgram-handle.js');
    const binding = loadBinding();
    const handle = dgramHandle(sender);
    if (typeof binding === 'string' || typeof handle === 'string') throw new Error(`${binding} ${handle}`);
    binding.refuseGso(handle.fd);
    const buf = segments(10, 1000);
    const arriving = receiveWithDgram(receiver, 10);
    expect(io.sendSegments(buf, 0, buf.length, 1000, '127.0.0.1', to)).toBe(10);
    expect(io.path).toBe('sendmmsg');
    expect(io.gsoOffReason).toBe('the kernel answered EINVAL');
    expect((await arriving).map((d) => d.data)).toEqual(
      [...Array(10).keys()].map((i) => buf.subarray(i * 1000, i * 1000 + 1000)),
    );
  });
});
