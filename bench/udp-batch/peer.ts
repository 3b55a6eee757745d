/**
 * One end of the udp-batch benchmark, in its own process. The receiver counts bytes and acknowledges
 * every ACK_EVERY bytes; the sender keeps at most WINDOW bytes unacknowledged, so that the
 * receiver's socket buffer never overflows and the figures measure I/O rather than loss.
 */
import dgram from 'node:dgram';
import { attach } from '../../packages/udp-batch/src/index.js';

export type SendWith = 'dgram' | 'sendmmsg' | 'gso';
export type ReceiveWith = 'dgram' | 'recvmmsg' | 'gro';

export interface PeerSpec {
  role: 'sender' | 'receiver';
  with: SendWith | ReceiveWith;
  bytes: number;
  datagram: number;
  /** The receiver's port, for the sender. */
  port?: number;
}

export type PeerMessage =
  | { type: 'ready'; port: number }
  | { type: 'path'; path: string; reason: string | null }
  | { type: 'done'; bytes: number; seconds: number; cpuSeconds: number; stalls?: number }
  | { type: 'failed'; message: string };

const HOST = '127.0.0.1';
const ACK_EVERY = 256 * 1024;
const WINDOW = 1 << 20;
/** No acknowledgement for this long: the window's datagrams count as lost. */
const STALL_MS = 200;
const END_MARK = 1;

const spec = JSON.parse(process.argv[2] as string) as PeerSpec;
const post = (m: PeerMessage) => process.send?.(m);

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function bound(): Promise<dgram.Socket> {
  const socket = dgram.createSocket({
    type: 'udp4',
    recvBufferSize: 4 << 20,
    sendBufferSize: 4 << 20,
    // As the QUIC driver does: an IP literal needs no lookup, and send() goes out at once.
    lookup: (address, _options, callback) => callback(null, address, 4),
  });
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return socket;
}

async function receiver(): Promise<void> {
  const socket = await bound();
  const ack = Buffer.alloc(8);
  let bytes = 0;
  let nextAck = ACK_EVERY;
  let started: { cpu: NodeJS.CpuUsage; at: bigint } | null = null;
  const onDatagram = (_buf: Buffer, _offset: number, length: number, address: string, port: number) => {
    started ??= { cpu: process.cpuUsage(), at: process.hrtime.bigint() };
    if (length === END_MARK) {
      const seconds = Number(process.hrtime.bigint() - started.at) / 1e9;
      post({ type: 'done', bytes, seconds, cpuSeconds: cpuSeconds(started.cpu) });
      return;
    }
    bytes += length;
    if (bytes >= nextAck) {
      nextAck = bytes + ACK_EVERY;
      ack.writeDoubleLE(bytes);
      socket.send(ack, port, address);
    }
  };
  const io = attach(socket, { batch: spec.with !== 'dgram' });
  io.startReceiving(onDatagram, { gro: spec.with === 'gro', maxDatagramSize: spec.datagram });
  const path = io.unavailableReason ? 'dgram' : io.gro ? 'gro' : 'recvmmsg';
  post({ type: 'path', path, reason: io.unavailableReason });
  post({ type: 'ready', port: socket.address().port });
}

async function sender(): Promise<void> {
  const socket = await bound();
  const io = attach(socket, { batch: spec.with !== 'dgram', gso: spec.with === 'gso' });
  post({ type: 'path', path: io.path, reason: io.unavailableReason ?? io.gsoOffReason });
  const port = spec.port as number;
  const size = spec.datagram;
  const perCall = spec.with === 'gso' ? Math.floor(65_507 / size) : 64;
  const block = Buffer.alloc(perCall * size, 0x5a);
  const packets = Array.from({ length: perCall }, (_, i) => ({
    buf: block,
    offset: i * size,
    length: size,
    address: HOST,
    port,
  }));
  let acked = 0;
  let sent = 0;
  let stalls = 0;
  let wake: (() => void) | null = null;
  socket.on('message', (msg) => {
    acked = Math.max(acked, msg.readDoubleLE(0));
    wake?.();
  });
  const cpu = process.cpuUsage();
  const at = process.hrtime.bigint();
  while (sent < spec.bytes) {
    while (sent - acked >= WINDOW) {
      const moved = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), STALL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = null;
      if (!moved) {
        stalls++;
        acked = sent;
      }
    }
    const count = Math.min(perCall, Math.ceil((spec.bytes - sent) / size));
    if (spec.with === 'gso') io.sendSegments(block, 0, count * size, size, HOST, port);
    else if (spec.with === 'sendmmsg') io.sendMany(packets, count);
    else for (let i = 0; i < count; i++) socket.send(block, i * size, size, port, HOST);
    sent += count * size;
  }
  const seconds = Number(process.hrtime.bigint() - at) / 1e9;
  post({ type: 'done', bytes: sent, seconds, cpuSeconds: cpuSeconds(cpu), stalls });
  const end = Buffer.alloc(END_MARK);
  // The end mark may be lost like any datagram: repeat it until the parent stops us.
  setInterval(() => socket.send(end, port, HOST), 20);
}

(spec.role === 'sender' ? sender() : receiver()).catch((error: Error) =>
  post({ type: 'failed', message: error.message }),
);
