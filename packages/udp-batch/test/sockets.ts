/** Loopback sockets and what arrives on them, for the udp-batch tests. */
import dgram from 'node:dgram';
import type { AttachOptions, BatchUdp, ReceiveOptions } from '../src/index.js';

export interface Received {
  data: Buffer;
  address: string;
  port: number;
}

export const LOOPBACK = { udp4: '127.0.0.1', udp6: '::1' } as const;

/** A socket on loopback; its receive buffer holds a test's whole burst (the default drops some). */
export async function boundSocket(type: 'udp4' | 'udp6', options: Partial<dgram.SocketOptions> = {}) {
  const socket = dgram.createSocket({ type, recvBufferSize: 4 << 20, ...options });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, LOOPBACK[type], () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

export async function closeAll(...sockets: dgram.Socket[]): Promise<void> {
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

/** `count` datagrams of `size` bytes in one buffer, each filled with its own index, the last `lastSize` long. */
export function segments(count: number, size: number, lastSize = size): Buffer {
  const buf = Buffer.alloc((count - 1) * size + lastSize);
  for (let i = 0; i < count; i++) buf.fill(i % 251, i * size, Math.min((i + 1) * size, buf.length));
  return buf;
}

function waitFor(list: Received[], count: number, what: string): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (list.length >= count) return resolve(list);
      if (Date.now() - started > 5000)
        return reject(new Error(`${what}: ${list.length} of ${count} datagrams`));
      setTimeout(check, 5);
    };
    check();
  });
}

/** The next `count` datagrams through node:dgram's 'message' event. */
export function receiveWithDgram(socket: dgram.Socket, count: number): Promise<Received[]> {
  const got: Received[] = [];
  socket.on('message', (data, rinfo) => got.push({ data, address: rinfo.address, port: rinfo.port }));
  return waitFor(got, count, 'dgram receiver');
}

/** The next `count` datagrams through BatchUdp.startReceiving, copied out of its slab. */
export function receiveWithBatch(io: BatchUdp, count: number, options?: ReceiveOptions): Promise<Received[]> {
  const got: Received[] = [];
  io.startReceiving((buf, offset, length, address, port) => {
    got.push({ data: Buffer.from(buf.subarray(offset, offset + length)), address, port });
  }, options);
  return waitFor(got, count, 'batch receiver');
}

/** The three ways a BatchUdp sends, each expected where the kernel allows it. */
export const MODES: Array<{ path: 'gso' | 'sendmmsg' | 'dgram'; options: AttachOptions }> = [
  { path: 'gso', options: {} },
  { path: 'sendmmsg', options: { gso: false } },
  { path: 'dgram', options: { batch: false } },
];
