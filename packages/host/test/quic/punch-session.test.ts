import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BindingOutcome, BindingTransactions } from '../../src/nat/binding-transactions.js';
import type { Endpoint } from '../../src/nat/ip.js';
import type { RelayClientEvents } from '../../src/nat/relay-client.js';
import { probeKey } from '../../src/quic/paths/probe-key.js';
import { DEFAULT_PUNCH_TIMING, PunchSession, type RelayLink } from '../../src/quic/paths/punch-session.js';
import { decodeTrickle, encodeTrickle, type TrickleMessage } from '../../src/quic/paths/trickle.js';
import type { PathInfo } from '../../src/quic/protocol.js';

const PEER: Endpoint = { address: '198.51.100.12', port: 40000 };
const MOVED: Endpoint = { address: '198.51.100.12', port: 20001 };
const STRANGER: Endpoint = { address: '203.0.113.66', port: 5555 };

class FakeRelay extends EventEmitter<RelayClientEvents> {
  readonly sent: Buffer[] = [];
  peerPresent = true;
  async connect(): Promise<void> {}
  send(datagram: Buffer): boolean {
    this.sent.push(datagram);
    return true;
  }
  async close(): Promise<void> {}
}

const same = (a: Endpoint, b: Endpoint) => a.address === b.address && a.port === b.port;

interface SessionOptions {
  relay: boolean;
  discover?: () => Promise<Endpoint | null>;
  /** The peer's advertised candidates; [PEER] unless given. */
  candidates?: Endpoint[];
  /** Whether a probe to `target` is answered now; else when it is in `alive`. */
  answers?: (target: Endpoint) => boolean;
}

/**
 * A session with fake probes (answered from the addresses in `alive`, at once), a fake relay
 * (when `relay`) and the default timing, on fake timers.
 */
function session(opts: SessionOptions) {
  const alive: Endpoint[] = [PEER];
  const probed: Endpoint[] = [];
  const paths: Array<PathInfo | null> = [];
  const udp: Endpoint[] = [];
  const relay = new FakeRelay();
  const probes = {
    request: async (target: Endpoint): Promise<BindingOutcome> => {
      probed.push(target);
      return (opts.answers ? opts.answers(target) : alive.some((a) => same(a, target)))
        ? { kind: 'success', mapped: { address: '198.51.100.11', port: 7400 }, from: target }
        : { kind: 'timeout' };
    },
  } as unknown as BindingTransactions;
  const s = new PunchSession(
    {
      sessionId: 'sess-1',
      key: probeKey('token-0123456789abcdef').toString('base64'),
      candidates: opts.candidates ?? [PEER],
      preferRelay: false,
      ...(opts.relay ? { relay: { url: 'ws://relay.invalid/relay', grant: 'g' } } : {}),
    },
    {
      probes,
      sendUdp: (_packet, address, port) => udp.push({ address, port }),
      deliver: () => {},
      onPath: (path) => paths.push(path),
      onFailed: () => {},
      timing: DEFAULT_PUNCH_TIMING,
      ...(opts.discover ? { discover: opts.discover } : {}),
      openRelay: () => relay as unknown as RelayLink,
    },
  );
  return { s, alive, probed, paths, udp, relay };
}

/** A session punched to a direct path at PEER; `paths` then holds later changes only. */
async function punched(opts: SessionOptions) {
  const punch = session(opts);
  punch.s.start();
  await vi.advanceTimersByTimeAsync(50);
  expect(punch.paths).toEqual([{ sessionId: 'sess-1', kind: 'direct', remote: PEER }]);
  punch.paths.length = 0;
  return punch;
}

/** QUIC going out on the path, and (while `replies()`) coming back from the direct address, for `ms`. */
async function transfer(s: PunchSession, ms: number, replies: () => boolean): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    s.send(Buffer.from([0x40, 1]));
    const direct = s.path?.kind === 'direct' ? s.path.remote : null;
    if (direct && replies()) s.quicFrom(direct.address, direct.port);
    await vi.advanceTimersByTimeAsync(10);
  }
}

describe('PunchSession: direct-path liveness', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a direct path that goes silent mid-transfer hands the session to the relay within ~2 s, and comes back when it answers again', async () => {
    const { s, alive, probed, paths, relay } = await punched({ relay: true });
    await transfer(s, 1_000, () => true);
    expect(paths).toEqual([]);

    // Dead both ways: no QUIC, no probe answers.
    alive.length = 0;
    const probesBefore = probed.length;
    await transfer(s, 2_000, () => false);
    expect(paths).toEqual([{ sessionId: 'sess-1', kind: 'relay', remote: null, lost: PEER }]);
    // Three confirmation probes to the direct address before giving up on it.
    expect(probed.slice(probesBefore)).toEqual([PEER, PEER, PEER]);
    // QUIC now goes over the relay.
    const relayed = relay.sent.length;
    s.send(Buffer.from([0x40, 2]));
    expect(relay.sent.length).toBe(relayed + 1);

    // While on the relay, the slow round keeps probing (the candidates, the lost address among them).
    const onRelay = probed.length;
    await vi.advanceTimersByTimeAsync(4_100);
    expect(probed.length - onRelay).toBeGreaterThanOrEqual(2);

    // The direct path answers again: back on it.
    alive.push(PEER);
    await vi.advanceTimersByTimeAsync(2_100);
    expect(paths.at(-1)).toEqual({ sessionId: 'sess-1', kind: 'direct', remote: PEER });
    s.close();
  });

  it('the peer comes back at a new address: a probe there answered moves the session back to direct', async () => {
    const { s, alive, paths } = await punched({ relay: true });
    alive.length = 0;
    await transfer(s, 2_500, () => false);
    expect(s.path?.kind).toBe('relay');
    // The rebound peer's probe (signed, checked by the packet layer) comes from its new port.
    alive.push(MOVED);
    s.probedFrom(MOVED);
    await vi.advanceTimersByTimeAsync(10);
    expect(paths.at(-1)).toEqual({ sessionId: 'sess-1', kind: 'direct', remote: MOVED });
    s.close();
  });

  it('without a relay the direct path stays: it is all there is', async () => {
    const { s, alive, paths, udp } = await punched({ relay: false });
    alive.length = 0;
    await transfer(s, 5_000, () => false);
    expect(paths).toEqual([]);
    expect(s.path).toMatchObject({ kind: 'direct', remote: PEER });
    expect(udp.at(-1)).toEqual(PEER);
    s.close();
  });

  it('a quiet path that still answers probes stays direct', async () => {
    const { s, paths } = await punched({ relay: true });
    // We keep sending, the peer sends nothing back (say it has nothing to say), but probes answer.
    await transfer(s, 10_000, () => false);
    expect(paths).toEqual([]);
    s.close();
  });

  it('QUIC over the relay while the direct path is already in doubt: the relay at once', async () => {
    const { s, alive, paths, relay } = await punched({ relay: true });
    alive.length = 0;
    await transfer(s, 700, () => false);
    expect(paths).toEqual([]);
    relay.emit('datagram', Buffer.from([0x40, 3]));
    expect(paths).toEqual([{ sessionId: 'sess-1', kind: 'relay', remote: null, lost: PEER }]);
    s.close();
  });

  it('QUIC over the relay while the direct path looks fine: it is checked now, and stays if it answers', async () => {
    const { s, probed, paths, relay } = await punched({ relay: true });
    const before = probed.length;
    relay.emit('datagram', Buffer.from([0x40, 3]));
    expect(probed.slice(before)).toEqual([PEER]);
    await transfer(s, 3_000, () => true);
    expect(paths).toEqual([]);
    s.close();
  });

  it('QUIC from a stranger (a spoofed source) neither takes over the path nor keeps a dead one alive', async () => {
    const { s, alive, paths } = await punched({ relay: true });
    alive.length = 0;
    // A stranger's packets: probed (unanswered), never a path.
    for (let t = 0; t < 2_500; t += 10) {
      s.send(Buffer.from([0x40, 1]));
      s.quicFrom(STRANGER.address, STRANGER.port);
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(paths).toEqual([{ sessionId: 'sess-1', kind: 'relay', remote: null, lost: PEER }]);
    expect(paths.some((p) => p?.remote && same(p.remote, STRANGER))).toBe(false);
    s.close();
  });
});

const KEY = probeKey('token-0123456789abcdef');
/** Where our own NAT maps us after it rebound, as STUN says. */
const OURS_NOW: Endpoint = { address: '198.51.100.11', port: 20000 };

function trickle(candidates: Endpoint[], over: Partial<TrickleMessage> = {}, key: Buffer = KEY): Buffer {
  const message = { sessionId: 'sess-1', sender: Buffer.alloc(8, 9), generation: 1, candidates, ...over };
  return encodeTrickle(message, key, Buffer.alloc(12, 3));
}

describe('PunchSession: trickled candidates', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a lost direct path: asks STUN again and sends its new address to the peer over the relay, signed', async () => {
    const discover = vi.fn(async () => OURS_NOW);
    const { s, alive, relay } = await punched({ relay: true, discover });
    alive.length = 0;
    await transfer(s, 2_500, () => false);
    expect(s.path?.kind).toBe('relay');
    expect(discover).toHaveBeenCalledTimes(1);
    const sent = relay.sent.filter((d) => (d[0]! & 0xc0) === 0);
    expect(sent).toHaveLength(1);
    const decoded = decodeTrickle(sent[0]!, KEY, 'sess-1');
    expect(decoded.ok && decoded.message.candidates).toEqual([OURS_NOW]);
    // Sent again on the next slow rounds (the relay may drop one), then no more.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(discover).toHaveBeenCalledTimes(3);
    expect(relay.sent.filter((d) => (d[0]! & 0xc0) === 0)).toHaveLength(3);
    s.close();
  });

  it("takes the peer's trickled address on the relay: probes it at once and goes back to direct there", async () => {
    const { s, alive, probed, paths, relay } = await punched({ relay: true });
    alive.length = 0;
    await transfer(s, 2_500, () => false);
    expect(s.path?.kind).toBe('relay');
    // The peer's NAT rebound to MOVED; it tells us over the relay. Nothing new is delivered to QUIC.
    alive.push(MOVED);
    const before = probed.length;
    relay.emit('datagram', trickle([MOVED]));
    await vi.advanceTimersByTimeAsync(10);
    expect(probed.slice(before)).toContainEqual(MOVED);
    expect(s.trickled).toEqual([MOVED]);
    expect(paths.at(-1)).toEqual({ sessionId: 'sess-1', kind: 'direct', remote: MOVED });
    s.close();
  });

  it("right after it is back on direct, the peer's last relayed packets do not send it back to the relay", async () => {
    const { s, alive, paths, relay } = await punched({ relay: true });
    alive.length = 0;
    await transfer(s, 2_500, () => false);
    alive.push(MOVED);
    relay.emit('datagram', trickle([MOVED]));
    await vi.advanceTimersByTimeAsync(10);
    expect(s.path).toMatchObject({ kind: 'direct', remote: MOVED });
    const changes = paths.length;
    // The peer's QUIC still in the relay's queue, while our path's liveness is being checked.
    for (let i = 0; i < 20; i++) {
      relay.emit('datagram', Buffer.from([0x40, i]));
      await transfer(s, 20, () => true);
    }
    expect(paths.length).toBe(changes);
    expect(s.path).toMatchObject({ kind: 'direct', remote: MOVED });
    s.close();
  });

  it('ignores forged, reflected and replayed trickles', async () => {
    const { s, alive, probed, relay } = await punched({ relay: true, discover: async () => OURS_NOW });
    alive.length = 0;
    await transfer(s, 2_500, () => false);
    const probedNow = () => probed.slice(-20);
    // Forged: signed with another key.
    relay.emit('datagram', trickle([STRANGER], {}, probeKey('not-the-session-token')));
    // Reflected: our own trickle, sent back to us by the relay.
    const own = relay.sent.find((d) => (d[0]! & 0xc0) === 0)!;
    relay.emit('datagram', own);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(s.trickled).toEqual([]);
    expect(probedNow()).not.toContainEqual(STRANGER);
    expect(probedNow()).not.toContainEqual(OURS_NOW);
    // A genuine one, then an older generation replayed with another address: only the first counts.
    relay.emit('datagram', trickle([MOVED], { generation: 5 }));
    relay.emit('datagram', trickle([STRANGER], { generation: 4 }));
    relay.emit('datagram', trickle([STRANGER], { generation: 5 }));
    expect(s.trickled).toEqual([MOVED]);
    s.close();
  });

  it('holds at most 8 trickled candidates, the newest', async () => {
    const { s, alive, relay } = await punched({ relay: true });
    alive.length = 0;
    await transfer(s, 2_500, () => false);
    for (let g = 1; g <= 12; g++)
      relay.emit('datagram', trickle([{ address: '198.51.100.12', port: 30000 + g }], { generation: g }));
    expect(s.trickled).toHaveLength(8);
    expect(s.trickled[0]).toEqual({ address: '198.51.100.12', port: 30005 });
    expect(s.trickled.at(-1)).toEqual({ address: '198.51.100.12', port: 30012 });
    s.close();
  });

  it('a trickle while the direct path looks fine: the path is checked, and stays if it answers', async () => {
    const { s, probed, paths, relay } = await punched({ relay: true });
    const before = probed.length;
    relay.emit('datagram', trickle([MOVED]));
    expect(probed.slice(before)).toEqual([PEER]);
    await transfer(s, 3_000, () => true);
    expect(paths).toEqual([]);
    s.close();
  });
});

/** Trickle messages (STUN, not QUIC) among what a relay carried. */
const trickles = (relay: FakeRelay) => relay.sent.filter((d) => (d[0]! & 0xc0) === 0);

describe('PunchSession: a session that starts on the relay', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** A session whose candidates never answer (the peer punches toward a stale address of ours), on the relay. */
  async function onRelay(discover?: () => Promise<Endpoint | null>) {
    const punch = session({ relay: true, ...(discover ? { discover } : {}) });
    punch.alive.length = 0;
    punch.s.start();
    await vi.advanceTimersByTimeAsync(1_100);
    expect(punch.paths).toEqual([{ sessionId: 'sess-1', kind: 'relay', remote: null }]);
    return punch;
  }

  it('the relay takes over: asks STUN again at once and trickles the answer over the relay, signed, and punches again', async () => {
    const discover = vi.fn(async () => OURS_NOW);
    const { s, probed, relay } = await onRelay(discover);
    // At the takeover (the 1 s grace), not at the end of the 5 s punch window.
    expect(discover).toHaveBeenCalledTimes(1);
    expect(trickles(relay)).toHaveLength(1);
    const decoded = decodeTrickle(trickles(relay)[0]!, KEY, 'sess-1');
    expect(decoded.ok && decoded.message.candidates).toEqual([OURS_NOW]);
    // …and probing at the punching rate again, from now, for the peer's probes to meet.
    const before = probed.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probed.length - before).toBeGreaterThanOrEqual(10);
    // Sent again at the end of the next punch windows (the relay may drop one), then no more.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(discover).toHaveBeenCalledTimes(3);
    expect(trickles(relay)).toHaveLength(3);
    expect(s.path).toEqual({ sessionId: 'sess-1', kind: 'relay', remote: null });
    s.close();
  });

  it('no trickle without STUN servers (or when none answers): the session stays on the relay', async () => {
    const { s, relay } = await onRelay();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(trickles(relay)).toEqual([]);
    expect(s.path?.kind).toBe('relay');
    s.close();

    const silent = vi.fn(async () => null);
    const unanswered = await onRelay(silent);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(trickles(unanswered.relay)).toEqual([]);
    expect(silent.mock.calls.length).toBeLessThanOrEqual(3);
    expect(unanswered.s.path?.kind).toBe('relay');
    unanswered.s.close();
  });

  it('the peer takes the trickle: probes the fresh address, and both ends go direct when it answers', async () => {
    // `stale` registered STALE, its NAT rebound to OURS_NOW since; `peer` (at PEER) punches toward
    // STALE. Both NATs filter by address and port: a probe gets through only to an end that
    // already sent to the prober's address.
    const STALE: Endpoint = { address: OURS_NOW.address, port: 7400 };
    const sentTo = { stale: [] as Endpoint[], peer: [] as Endpoint[] };
    const stale = session({
      relay: true,
      discover: async () => OURS_NOW,
      answers: (target) => {
        sentTo.stale.push(target);
        return same(target, PEER) && sentTo.peer.some((t) => same(t, OURS_NOW));
      },
    });
    const peer = session({
      relay: true,
      discover: async () => PEER,
      candidates: [STALE],
      answers: (target) => {
        sentTo.peer.push(target);
        return same(target, OURS_NOW) && sentTo.stale.some((t) => same(t, PEER));
      },
    });
    // The relay carries each end's datagrams to the other.
    for (const [from, to] of [
      [stale.relay, peer.relay],
      [peer.relay, stale.relay],
    ] as const) {
      from.send = (datagram: Buffer) => {
        from.sent.push(datagram);
        queueMicrotask(() => to.emit('datagram', datagram));
        return true;
      };
    }
    stale.s.start();
    peer.s.start();
    await vi.advanceTimersByTimeAsync(900);
    expect(stale.s.path).toBeNull();
    expect(peer.s.path).toBeNull();
    // The relay takes over `stale` (the 1 s grace): its trickle crosses, the peer probes OURS_NOW
    // (there before its own grace ends), and both go direct, well inside the first punch window.
    await vi.advanceTimersByTimeAsync(600);
    expect(peer.s.trickled).toEqual([OURS_NOW]);
    expect(sentTo.peer).toContainEqual(OURS_NOW);
    expect(peer.s.path).toEqual({ sessionId: 'sess-1', kind: 'direct', remote: OURS_NOW });
    expect(stale.paths).toEqual([
      { sessionId: 'sess-1', kind: 'relay', remote: null },
      { sessionId: 'sess-1', kind: 'direct', remote: PEER },
    ]);
    // The peer went direct before the relay took it over: it trickled nothing.
    expect(trickles(peer.relay)).toEqual([]);
    expect(stale.s.trickled).toEqual([]);
    stale.s.close();
    peer.s.close();
  });
});
