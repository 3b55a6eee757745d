import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { attach } from '@mesh-agent/udp-batch';
import { afterEach, describe, expect, it } from 'vitest';
import { BINDING, decodeStun, encodeStun } from '../../src/nat/stun.js';
import { usernameAttribute } from '../../src/nat/stun-attributes.js';
import { newCounters } from '../../src/quic/driver/stats.js';
import { isMappedAddress } from '../../src/quic/paths/mapped-address.js';
import { PacketLayer } from '../../src/quic/paths/packet-layer.js';
import { probeKey } from '../../src/quic/paths/probe-key.js';
import type { PunchTiming } from '../../src/quic/paths/punch-session.js';
import type { PathInfo, PunchSpec } from '../../src/quic/protocol.js';
import { eventually } from '../helpers/cli.js';

const FAST: PunchTiming = {
  probeIntervalMs: 20,
  punchWindowMs: 400,
  slowProbeIntervalMs: 200,
  directGraceMs: 100,
  keepaliveMs: 5_000,
  silenceMs: 500,
  confirmProbes: 3,
  confirmIntervalMs: 400,
};

interface Side {
  socket: dgram.Socket;
  layer: PacketLayer;
  counters: ReturnType<typeof newCounters>;
  quic: Array<{ packet: Buffer; from: { address: string; port: number } }>;
  port: number;
}

const sockets: dgram.Socket[] = [];
const layers: PacketLayer[] = [];
const ios: Array<ReturnType<typeof attach>> = [];
afterEach(() => {
  for (const layer of layers.splice(0)) layer.close();
  for (const io of ios.splice(0)) io.close();
  for (const socket of sockets.splice(0)) socket.close();
});

async function udp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

async function side(onPath: (path: PathInfo) => void = () => {}): Promise<Side> {
  const socket = await udp();
  const counters = newCounters();
  const quic: Side['quic'] = [];
  // The layer sends through the same batched I/O the driver gives it.
  const io = attach(socket);
  const layer = new PacketLayer(
    io,
    counters,
    { quic: (packet, from) => quic.push({ packet, from }), path: onPath, pathLost() {} },
    FAST,
  );
  layers.push(layer);
  io.startReceiving((buf, offset, length, address, port) =>
    layer.receive(buf.subarray(offset, offset + length), address, port),
  );
  ios.push(io);
  return { socket, layer, counters, quic, port: socket.address().port };
}

const TOKEN = 'session-token-0123456789abcdef';
function spec(peerPort: number, over: Partial<PunchSpec> = {}): PunchSpec {
  return {
    sessionId: 'sess-1',
    key: probeKey(TOKEN).toString('base64'),
    candidates: [{ address: '127.0.0.1', port: peerPort }],
    preferRelay: false,
    ...over,
  };
}

function probe(sessionId: string, key: Buffer, transactionId = randomBytes(12)): Buffer {
  return encodeStun(
    { method: BINDING, class: 'request', transactionId, attributes: [usernameAttribute(sessionId)] },
    { integrityKey: key, fingerprint: true },
  );
}

/** Sends `packets` from a fresh socket and collects the answers (success responses) within `ms`. */
async function fromStranger(to: number, packets: Buffer[], ms = 300): Promise<Buffer[]> {
  const socket = await udp();
  const answers: Buffer[] = [];
  socket.on('message', (msg) => {
    const decoded = decodeStun(msg);
    if (decoded.ok && decoded.message.class === 'success') answers.push(msg);
  });
  // In bursts of 100: more at once would overflow the receiver's socket buffer (kernel loss).
  for (let i = 0; i < packets.length; i++) {
    socket.send(packets[i]!, to, '127.0.0.1');
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, ms));
  return answers;
}

describe('PacketLayer: hole punching on the QUIC socket', () => {
  it('punches a direct path both ways and carries QUIC packets under a mapped address', async () => {
    const [a, b] = await Promise.all([side(), side()]);
    const [pa, pb] = await Promise.all([a.layer.punch(spec(b.port)), b.layer.punch(spec(a.port))]);
    if ('error' in pa || 'error' in pb) throw new Error('punch failed');
    expect(pa.path).toMatchObject({ kind: 'direct', remote: { address: '127.0.0.1', port: b.port } });
    expect(isMappedAddress(pa.mapped.address)).toBe(true);

    // A short-header QUIC packet (0x40 set) to the mapped address arrives at b as from b's mapped address.
    const packet = Buffer.from([0x40, ...randomBytes(30)]);
    a.layer.send(packet, pa.mapped.address, pa.mapped.port);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.quic).toHaveLength(1);
    expect(b.quic[0]!.packet.equals(packet)).toBe(true);
    expect(b.quic[0]!.from).toEqual(pb.mapped);
  });

  it('drops probes with a forged MAC, for unknown sessions, replayed, or beyond the rate, and answers none of them', async () => {
    const b = await side();
    void b.layer.punch(spec(1, { candidates: [] }));
    const key = probeKey(TOKEN);

    const forged = await fromStranger(b.port, [probe('sess-1', probeKey('another-token-0123456789'))]);
    const unknown = await fromStranger(b.port, [probe('no-such-session', key)]);
    const garbage = await fromStranger(b.port, [Buffer.from([0x00, 0x01, 0x00, 0x04, 1, 2, 3])]);
    expect([forged, unknown, garbage]).toEqual([[], [], []]);
    expect(b.counters.droppedProbes).toBe(3);

    const valid = probe('sess-1', key);
    const replayed = await fromStranger(b.port, [valid, valid, valid]);
    expect(replayed).toHaveLength(1);
    expect(b.counters.droppedProbes).toBe(5);

    // 400 valid, distinct probes at once: at most 100 answers a second (the flood may straddle two).
    const packets = Array.from({ length: 400 }, () => probe('sess-1', key));
    const flood = await fromStranger(b.port, packets, 1_500);
    const dropped = b.counters.droppedProbes - 5;
    // The kernel may lose a few of a burst; of those that arrived, all beyond the rate were dropped.
    expect(flood.length + dropped).toBeGreaterThan(300);
    expect(flood.length).toBeLessThanOrEqual(200);
    expect(dropped).toBeGreaterThanOrEqual(flood.length + dropped - 200);
  });

  it('a valid probe teaches the layer the peer address: its QUIC packets then carry the mapped address', async () => {
    const b = await side();
    const punched = b.layer.punch(spec(1, { candidates: [] }));
    const stranger = await udp();
    stranger.send(probe('sess-1', probeKey(TOKEN)), b.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    stranger.send(Buffer.from([0x40, 1, 2, 3]), b.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.quic.at(-1)!.from.address).toMatch(/^240\./);
    b.layer.unpunch('sess-1');
    expect(await punched).toEqual({ error: 'session closed' });
  });

  it("follows the peer to a new address once a signed probe there is answered; a stranger's address never takes over", async () => {
    const paths: PathInfo[] = [];
    const [a, b] = await Promise.all([side(), side((path) => paths.push(path))]);
    const [pa, pb] = await Promise.all([a.layer.punch(spec(b.port)), b.layer.punch(spec(a.port))]);
    if ('error' in pa || 'error' in pb) throw new Error('punch failed');
    const quic = Buffer.from([0x40, ...randomBytes(30)]);

    // A stranger's packet (no session key): b probes its address, which never answers.
    const stranger = await udp();
    b.layer.peerSeenAt(pb.mapped, { address: '127.0.0.1', port: stranger.address().port });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.layer.pathOf('sess-1')?.remote).toEqual({ address: '127.0.0.1', port: a.port });

    // The peer, rebound: the same session on a new socket, which answers probes but sends none.
    const moved = await side();
    void moved.layer.punch(spec(b.port, { candidates: [] }));
    moved.layer.send(quic, pb.mapped.address, pb.mapped.port);
    b.layer.peerSeenAt(pb.mapped, { address: '127.0.0.1', port: moved.port });
    await eventually(async () => paths.length > 0, 2_000, 10);
    expect(paths).toEqual([
      { sessionId: 'sess-1', kind: 'direct', remote: { address: '127.0.0.1', port: moved.port } },
    ]);
    b.layer.send(quic, pb.mapped.address, pb.mapped.port);
    await eventually(async () => moved.quic.length > 0, 2_000, 10);
  });

  it('gives up when no candidate answers and there is no relay', async () => {
    const b = await side();
    const silent = await udp();
    const result = await b.layer.punch(spec(silent.address().port));
    expect(result).toMatchObject({ error: expect.stringContaining('no direct path') });
  });
});
