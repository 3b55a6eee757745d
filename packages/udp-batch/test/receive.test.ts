import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, type BatchUdp } from '../src/index.js';
import {
  boundSocket,
  closeAll,
  LOOPBACK,
  MODES,
  type Received,
  receiveWithBatch,
  receiveWithDgram,
  segments,
} from './sockets.js';

const linux = process.platform === 'linux';
const opened: BatchUdp[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const io of opened.splice(0)) io.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function attached(...args: Parameters<typeof attach>): BatchUdp {
  const io = attach(...args);
  opened.push(io);
  return io;
}

/** Datagram i from a sender: i + 1 bytes of (i % 251), so sizes and contents both tell them apart. */
const datagram = (i: number) => Buffer.alloc(1 + (i % 1400), i % 251);

describe.skipIf(!linux).each(MODES)('receiving via $path', ({ options }) => {
  it.each(['udp4', 'udp6'] as const)(
    'a burst from two plain senders, with their addresses (%s)',
    async (type) => {
      const receiver = await boundSocket(type);
      const senders = [await boundSocket(type), await boundSocket(type)];
      cleanups.push(() => closeAll(receiver, ...senders));
      const io = attached(receiver, options);
      const arriving = receiveWithBatch(io, 400);
      for (let i = 0; i < 200; i++)
        for (const sender of senders) sender.send(datagram(i), receiver.address().port, LOOPBACK[type]);
      const got = await arriving;
      for (const [n, sender] of senders.entries()) {
        const from = got.filter((d) => d.port === sender.address().port);
        expect(
          from.map((d) => d.data),
          `sender ${n}`,
        ).toEqual([...Array(200).keys()].map(datagram));
        expect(new Set(from.map((d) => d.address))).toEqual(new Set([LOOPBACK[type]]));
      }
    },
  );
});

describe.skipIf(!linux)('batched receiving', () => {
  async function gsoToGro(type: 'udp4' | 'udp6') {
    const sender = await boundSocket(type);
    const receiver = await boundSocket(type);
    cleanups.push(() => closeAll(sender, receiver));
    return { sender, receiver, tx: attached(sender), rx: attached(receiver) };
  }

  it.each(['udp4', 'udp6'] as const)(
    'splits GRO reads into the datagrams sent with GSO (%s)',
    async (type) => {
      const { sender, receiver, tx, rx } = await gsoToGro(type);
      const buf = segments(101, 1350, 200);
      const arriving = receiveWithBatch(rx, 102, { gro: true });
      expect(rx.gro).toBe(true);
      tx.sendSegments(buf, 0, buf.length, 1350, LOOPBACK[type], receiver.address().port);
      // A different size from the same sender: its own read.
      tx.sendMany([{ buf, offset: 0, length: 7, address: LOOPBACK[type], port: receiver.address().port }]);
      const got = await arriving;
      expect(tx.path).toBe('gso');
      // Coalesced: far fewer reads than datagrams.
      expect(rx.counters.reads).toBeLessThan(10);
      expect(got.map((d) => d.data.length)).toEqual([...Array(100).fill(1350), 200, 7]);
      got.slice(0, 101).forEach((d, i) => {
        expect(d.data.equals(buf.subarray(i * 1350, i * 1350 + d.data.length))).toBe(true);
      });
      expect(got.every((d) => d.port === sender.address().port && d.address === LOOPBACK[type])).toBe(true);
    },
  );

  it('hands receiving back to node:dgram, with GRO off again', async () => {
    const { receiver, tx, rx } = await gsoToGro('udp4');
    await new Promise<void>((resolve) => {
      rx.startReceiving(() => resolve(), { gro: true });
      tx.sendSegments(Buffer.alloc(10), 0, 10, 10, '127.0.0.1', receiver.address().port);
    });
    rx.stopReceiving();
    expect(rx.gro).toBe(false);
    const arriving = receiveWithDgram(receiver, 20);
    const buf = segments(20, 1000);
    tx.sendSegments(buf, 0, buf.length, 1000, '127.0.0.1', receiver.address().port);
    expect((await arriving).map((d: Received) => d.data.length)).toEqual(Array(20).fill(1000));
  });

  it('takes datagrams up to 64 KiB whole, and drops larger ones than maxDatagramSize', async () => {
    const { receiver, tx, rx } = await gsoToGro('udp4');
    const port = receiver.address().port;
    const big = segments(1, 65_507);
    const arriving = receiveWithBatch(rx, 2);
    tx.sendMany([{ buf: big, offset: 0, length: big.length, address: '127.0.0.1', port }]);
    tx.sendMany([{ buf: big, offset: 0, length: 10, address: '127.0.0.1', port }]);
    expect((await arriving).map((d) => d.data)).toEqual([big, big.subarray(0, 10)]);
    rx.stopReceiving();
    const small = receiveWithBatch(rx, 1, { maxDatagramSize: 1500 });
    tx.sendMany([{ buf: big, offset: 0, length: 1501, address: '127.0.0.1', port }]);
    tx.sendMany([{ buf: big, offset: 0, length: 1500, address: '127.0.0.1', port }]);
    expect((await small).map((d) => d.data.length)).toEqual([1500]);
  });

  it('lets the port go when node:dgram closes the socket while receiving', async () => {
    const socket = await boundSocket('udp4');
    const { port } = socket.address();
    const io = attached(socket);
    io.startReceiving(() => {});
    await closeAll(socket);
    expect(io.path).toBe('dgram');
    // Our duplicate of the fd would keep the port bound.
    const again = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(port, '127.0.0.1', resolve);
    });
    await closeAll(again);
  });
});
