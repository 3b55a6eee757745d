import { describe, expect, it } from 'vitest';
import { MAX_TRAIN, type PacketOut, PacketSender } from '../../src/quic/driver/packet-sender.js';
import type { QuicheConfigs } from '../../src/quic/driver/quiche-config.js';
import type { DriverConnection } from '../../src/quic/driver/state.js';
import { isMappedAddress } from '../../src/quic/paths/mapped-address.js';

interface Sent {
  kind: 'train' | 'single';
  /** Each datagram's first byte: which packet it is. */
  packets: number[];
  segment: number;
  offset: number;
  address: string;
}

/**
 * A packet layer that records what leaves, and a connection whose packets have the given lengths;
 * `to` names each packet's destination (quiche's `SendInfo.to`), by default the connection's peer.
 */
function setup(
  lengths: number[],
  opts: { payload?: number; relayed?: boolean; idle?: boolean; to?: (index: number) => string } = {},
) {
  const sent: Sent[] = [];
  const out: PacketOut = {
    udpRoute: (address, port) => (isMappedAddress(address) ? null : { address, port }),
    sendTrain: (buf, offset, length, segment, address) => {
      const packets: number[] = [];
      for (let at = offset; at < offset + length; at += segment) packets.push(buf[at]!);
      sent.push({ kind: 'train', packets, segment, offset, address });
    },
    send: (packet, address) =>
      sent.push({ kind: 'single', packets: [packet[0]!], segment: packet.length, offset: -1, address }),
    idle: () => opts.idle ?? true,
  };
  const address = opts.relayed ? '240.0.0.1' : '10.0.0.2';
  let next = 0;
  const q = {
    send(buf: Uint8Array) {
      if (next >= lengths.length) return null;
      const length = lengths[next]!;
      buf.fill(0, 0, length);
      const to = { host: opts.to?.(next) ?? address, port: 4433 };
      buf[0] = next++ & 0xff;
      return [length, { to }];
    },
  };
  const payload = opts.payload ?? 1350;
  const configs = { sendPayload: () => payload } as unknown as QuicheConfigs;
  const sender = new PacketSender();
  sender.attach(out, configs);
  const conn = { q, remote: { address, port: 4433 } } as unknown as DriverConnection;
  return { sent, drain: (budget = Number.POSITIVE_INFINITY) => sender.drainSend(conn, budget) };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => (from + i) & 0xff);

describe('PacketSender', () => {
  it('sends full packets in trains of MAX_TRAIN, the last train ending with the short packet', () => {
    const { sent, drain } = setup([...Array(100).fill(1350), 500]);
    expect(drain()).toBe(false);
    expect(sent.map((s) => s.packets.length)).toEqual([MAX_TRAIN, MAX_TRAIN, 5]);
    expect(sent.every((s) => s.kind === 'train' && s.segment === 1350)).toBe(true);
    expect(sent.flatMap((s) => s.packets)).toEqual(range(0, 101));
  });

  it('ends a train before a longer packet, which starts the next one', () => {
    const { sent, drain } = setup([60, 1350, 1350, 1200, 1350]);
    drain();
    expect(sent.map((s) => [s.packets, s.segment])).toEqual([
      [[0], 60],
      [[1, 2, 3], 1350],
      [[4], 1350],
    ]);
  });

  it('keeps a train within 64 KiB for large datagrams', () => {
    const { sent, drain } = setup(Array(10).fill(16_000), { payload: 16_000 });
    drain();
    expect(sent.map((s) => s.packets.length)).toEqual([4, 4, 2]);
  });

  it('reuses the slab from its start once nothing waits in node:dgram, and not before', () => {
    const idle = setup(Array(100).fill(1350));
    idle.drain();
    expect(idle.sent.map((s) => s.offset)).toEqual([0, 0, 0]);
    const busy = setup(Array(100).fill(1350), { idle: false });
    busy.drain();
    expect(busy.sent.map((s) => s.offset)).toEqual([0, MAX_TRAIN * 1350, 2 * MAX_TRAIN * 1350]);
  });

  it('hands packets to a relayed peer one at a time, to its mapped address', () => {
    const { sent, drain } = setup([1350, 1350, 400], { relayed: true });
    drain();
    expect(sent).toEqual([
      { kind: 'single', packets: [0], segment: 1350, offset: -1, address: '240.0.0.1' },
      { kind: 'single', packets: [1], segment: 1350, offset: -1, address: '240.0.0.1' },
      { kind: 'single', packets: [2], segment: 400, offset: -1, address: '240.0.0.1' },
    ]);
  });

  it('sends each packet where quiche names: a train ends where the destination changes, a mapped one goes as the layer routes it', () => {
    // Packets 3 and 4: a path being validated at the peer's new address; 5: a relayed session's.
    const to = (i: number) => (i === 3 || i === 4 ? '10.0.0.9' : i === 5 ? '240.0.0.1' : '10.0.0.2');
    const { sent, drain } = setup(Array(8).fill(1350), { to });
    drain();
    expect(sent.map((s) => [s.kind, s.packets, s.address])).toEqual([
      ['train', [0, 1, 2], '10.0.0.2'],
      ['train', [3, 4], '10.0.0.9'],
      ['single', [5], '240.0.0.1'],
      ['train', [6, 7], '10.0.0.2'],
    ]);
  });

  it('stops at the budget and says there is more', () => {
    const { sent, drain } = setup(Array(100).fill(1350));
    expect(drain(10 * 1350)).toBe(true);
    expect(sent.flatMap((s) => s.packets)).toEqual(range(0, 10));
  });
});
