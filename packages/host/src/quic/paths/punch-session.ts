import { randomBytes } from 'node:crypto';
import type { BindingTransactions } from '../../nat/binding-transactions.js';
import { type Endpoint, sameEndpoint } from '../../nat/ip.js';
import { RelayClient } from '../../nat/relay-client.js';
import { usernameAttribute } from '../../nat/stun-attributes.js';
import type { PathInfo, PunchSpec } from '../protocol.js';
import { DirectLiveness, type LivenessTiming } from './direct-liveness.js';
import { endpointKey } from './mapped-address.js';
import {
  decodeTrickle,
  encodeTrickle,
  isTricklePacket,
  MAX_TRICKLE_CANDIDATES,
  SENDER_ID_LENGTH,
} from './trickle.js';

/** Timing of hole punching; tests shorten it. */
export interface PunchTiming extends LivenessTiming {
  /** Probes to every candidate this often while punching… */
  probeIntervalMs: number;
  /** …for this long; after that, a slower round keeps looking for a direct path while on the relay. */
  punchWindowMs: number;
  slowProbeIntervalMs: number;
  /** How long probes get before the relay carries the session (unless `preferRelay`). */
  directGraceMs: number;
  /** A probe on the direct path this often keeps the NATs' mappings open (≤ 25 s). */
  keepaliveMs: number;
}

export const DEFAULT_PUNCH_TIMING: PunchTiming = {
  probeIntervalMs: 80,
  punchWindowMs: 5_000,
  slowProbeIntervalMs: 2_000,
  directGraceMs: 1_000,
  keepaliveMs: 15_000,
  // Half a second without a reply is past any RTT plus ACK delay, and an event-loop stall on a
  // busy machine makes it suspect only: three probes 400 ms apart, all lost, decide it. Losing
  // two in a row does not. About 1.7 s in all, far below QUIC's 30 s idle timeout.
  silenceMs: 500,
  confirmProbes: 3,
  confirmIntervalMs: 400,
};

/** Addresses remembered for the triggered-probe rate limit; beyond this, it starts over. */
const MAX_TRIGGERED = 256;
/**
 * Times our address is trickled for one fallback to the relay (a lost direct path, or a session
 * that starts on it): at the fallback and at the end of the next punch windows (the relay may drop one).
 */
const TRICKLE_SENDS = 3;

export interface PunchSessionDeps {
  probes: BindingTransactions;
  /** A datagram straight onto the UDP socket. */
  sendUdp(packet: Uint8Array, address: string, port: number): void;
  /** A QUIC datagram that arrived through the relay, for the driver. */
  deliver(packet: Buffer): void;
  /** The path changed (or appeared, or went away). */
  onPath(path: PathInfo | null): void;
  /** The punch gave up: no direct path and no relay. */
  onFailed(reason: string): void;
  timing: PunchTiming;
  /**
   * Asks STUN again for this socket's public address (it may have changed: the NAT rebound), to
   * trickle it to the peer when the direct path is lost or the session starts on the relay; null
   * when no server answered.
   */
  discover?: () => Promise<Endpoint | null>;
  /** Opens the session's relay connection; tests pass a fake. */
  openRelay?: (options: { url: string; grant: string }) => RelayLink;
}

/** What a session needs of its relay connection. */
export type RelayLink = Pick<RelayClient, 'on' | 'connect' | 'send' | 'close' | 'peerPresent'>;

/**
 * One brokered session's way to the peer: authenticated probes (STUN Binding requests signed
 * with the session's probe key) to every candidate, answered by the peer's packet layer; the
 * first answered pair becomes the direct path. A relay connection runs alongside and carries
 * the session when no direct path appears in time, until one does.
 */
export class PunchSession {
  readonly key: Buffer;
  /** Peer addresses proven by a signed probe or answer: QUIC from them belongs to this session. */
  readonly peerAddresses = new Set<string>();
  readonly #triggeredAt = new Map<string, number>();
  #direct: Endpoint | null = null;
  /** When the direct path came back after it was lost (never: -Infinity). */
  #directSince = Number.NEGATIVE_INFINITY;
  /** The direct path that went silent while the relay carries the session; probed to come back. */
  #lost: Endpoint | null = null;
  readonly #liveness: DirectLiveness;
  #relay: RelayLink | null = null;
  #relayUp = false;
  #graceOver = false;
  #peerOnRelay = false;
  #current: PathInfo | null = null;
  #closed = false;
  readonly #candidates: Endpoint[];
  /** Candidates the peer trickled (its new address after a rebind), newest last, at most 8. */
  readonly #trickled: Endpoint[] = [];
  /** Fast probing runs from here for `punchWindowMs`: the start, or the last trickled candidate. */
  #punchFrom = performance.now();
  /** Our end's id in trickle messages, and the generation of the last one sent and received. */
  readonly #trickleSender = randomBytes(SENDER_ID_LENGTH);
  #trickleGeneration = 0;
  #peerGeneration = 0;
  /**
   * Trickles sent for the current fallback to the relay: the relay taking over a session that never
   * went direct, or the last loss of the direct path, which starts the count over.
   */
  #trickleSends = 0;
  #probeTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: PunchSpec,
    private readonly deps: PunchSessionDeps,
  ) {
    this.key = Buffer.from(spec.key, 'base64');
    this.#candidates = spec.candidates.map((c) => ({ address: c.address, port: c.port }));
    this.#liveness = new DirectLiveness(deps.timing, {
      probe: () => {
        if (this.#direct) this.#probe(this.#direct, false);
      },
      dead: () => this.#directDead(),
    });
  }

  get path(): PathInfo | null {
    return this.#current;
  }

  start(): void {
    this.#probeRound();
    this.#graceTimer = setTimeout(() => {
      this.#graceOver = true;
      this.#choose();
    }, this.deps.timing.directGraceMs);
    if (this.spec.relay) this.#openRelay(this.spec.relay);
  }

  /** Sends one QUIC datagram on the current path; false when there is none yet (QUIC retransmits). */
  send(packet: Uint8Array): boolean {
    const path = this.#current;
    if (!path) return false;
    if (path.kind === 'direct') {
      this.#liveness.sent();
      this.deps.sendUdp(packet, path.remote!.address, path.remote!.port);
      return true;
    }
    // The relay socket may hold the bytes after send returns; the caller's buffer is reused.
    return this.#relay?.send(Buffer.from(packet)) ?? false;
  }

  /** Where QUIC packets go out as plain UDP (the direct path), about to be sent; else null. */
  directRoute(): Endpoint | null {
    if (this.#current?.kind !== 'direct') return null;
    this.#liveness.sent();
    return this.#current.remote;
  }

  /** Candidates the peer trickled, oldest first. */
  get trickled(): readonly Endpoint[] {
    return this.#trickled;
  }

  /** A signed probe from the peer arrived from `from`: that address is the peer's. */
  probedFrom(from: Endpoint): void {
    const key = endpointKey(from.address, from.port);
    this.peerAddresses.add(key);
    // A triggered check (as in ICE): the peer just opened our NAT toward this address, so try it now.
    if (!this.#direct && this.#mayTrigger(key)) this.#probe(from, false);
  }

  /**
   * A QUIC packet of this session came from `address`:`port`. Elsewhere than the direct path, the
   * peer has moved (its NAT rebound, or its address changed) and our packets to the old address
   * may be dropped: a signed probe there, once answered, moves the direct path to it. Only the
   * holder of the session key answers, so a spoofed source address cannot move the path.
   */
  quicFrom(address: string, port: number): void {
    const direct = this.#direct;
    // Per packet: both addresses come as the socket spells them, so no canonical form (sameEndpoint).
    if (direct && direct.port === port && direct.address === address) {
      this.#liveness.heard();
      return;
    }
    const key = endpointKey(address, port);
    if (this.#mayTrigger(key)) this.#probe({ address, port }, true);
  }

  /** At most one triggered probe per probe interval per address, so probes never multiply. */
  #mayTrigger(key: string): boolean {
    const now = performance.now();
    if (now - (this.#triggeredAt.get(key) ?? Number.NEGATIVE_INFINITY) < this.deps.timing.probeIntervalMs)
      return false;
    if (this.#triggeredAt.size >= MAX_TRIGGERED) this.#triggeredAt.clear();
    this.#triggeredAt.set(key, now);
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#probeTimer);
    clearTimeout(this.#graceTimer);
    this.#liveness.reset();
    void this.#relay?.close();
    this.#relay = null;
  }

  #probeRound(): void {
    if (this.#closed) return;
    const targets = this.#direct ? [this.#direct] : [...this.#candidates];
    // The lost path may come back (a transient outage): it is probed with the candidates, and so
    // are the addresses the peer trickled since.
    const lost = this.#lost;
    if (!this.#direct) {
      for (const extra of lost ? [...this.#trickled, lost] : this.#trickled)
        if (!targets.some((t) => sameEndpoint(t, extra))) targets.push(extra);
    }
    for (const target of targets) this.#probe(target, false);
    const { probeIntervalMs, punchWindowMs, slowProbeIntervalMs, keepaliveMs } = this.deps.timing;
    const elapsed = performance.now() - this.#punchFrom;
    let next: number;
    if (this.#direct) next = keepaliveMs;
    else if (elapsed < punchWindowMs) next = probeIntervalMs;
    else {
      if (!this.#current && !this.#relay) {
        this.deps.onFailed(`no direct path to the peer within ${punchWindowMs} ms and no relay`);
        return;
      }
      next = slowProbeIntervalMs;
      if (this.#trickleSends > 0 && this.#trickleSends < TRICKLE_SENDS) this.#trickle();
    }
    this.#probeTimer = setTimeout(() => this.#probeRound(), next);
  }

  /** `move`: an answer moves the direct path there; else only the first answer makes one. */
  #probe(target: Endpoint, move: boolean): void {
    void this.deps.probes
      .request(target, { attributes: [usernameAttribute(this.spec.sessionId)], integrityKey: this.key })
      .then((outcome) => {
        if (outcome.kind !== 'success' || this.#closed) return;
        this.peerAddresses.add(endpointKey(outcome.from.address, outcome.from.port));
        const direct = this.#direct;
        const first = !direct;
        if (direct && sameEndpoint(direct, outcome.from)) this.#liveness.answered();
        if (!first && !move) return;
        // The peer's packet layer holds the key and answered from there, so the path is real.
        this.#direct = outcome.from;
        if (this.#lost) this.#directSince = performance.now();
        this.#liveness.reset();
        this.#choose();
        this.#lost = null;
        if (!first) return;
        clearTimeout(this.#probeTimer);
        this.#probeTimer = setTimeout(() => this.#probeRound(), this.deps.timing.keepaliveMs);
      });
  }

  #openRelay(relay: { url: string; grant: string }): void {
    const client = (this.deps.openRelay ?? ((options) => new RelayClient(options)))(relay);
    this.#relay = client;
    client.on('datagram', (datagram) => {
      if (isTricklePacket(datagram)) {
        this.#onTrickle(datagram);
        return;
      }
      // The peer already sends on the relay: answer there at once rather than after the grace
      // (its first packet would otherwise wait for QUIC's retransmission, a second).
      if (!this.#current) {
        this.#peerOnRelay = true;
        this.#relayUp = true;
        this.#choose();
      } else if (this.#direct && this.#settled()) {
        // The peer gave up on the direct path: when ours is quiet too, follow at once; else check it now.
        this.#relayUp = true;
        if (this.#liveness.confirming) this.#directDead();
        else this.#liveness.suspect();
      }
      this.deps.deliver(datagram);
    });
    client.on('peer', (state) => {
      this.#relayUp = state === 'present';
      this.#choose();
    });
    client.on('close', () => {
      this.#relayUp = false;
      if (this.#relay === client) this.#relay = null;
      this.#choose();
    });
    client.connect().then(
      () => {
        this.#relayUp = client.peerPresent;
        this.#choose();
      },
      () => {
        if (this.#relay === client) this.#relay = null;
        this.#choose();
      },
    );
  }

  /**
   * Silence on the direct path, confirmed by unanswered signed probes: the relay carries the
   * session (end-to-end encrypted QUIC, as on the direct path) while probing looks for a way back.
   * Without a relay to take over, the direct path stays: it is all there is.
   */
  #directDead(): void {
    if (this.#closed || !this.#direct || !this.#relayUp) return;
    this.#lost = this.#direct;
    this.#direct = null;
    this.#graceOver = true;
    this.#liveness.reset();
    this.#choose();
    clearTimeout(this.#probeTimer);
    this.#probeTimer = setTimeout(() => this.#probeRound(), this.deps.timing.slowProbeIntervalMs);
    this.#trickleSends = 0;
    this.#trickle();
  }

  /**
   * Tells the peer where this socket is reachable now (STUN asked again: after a rebind, the NAT's
   * new port), over the relay, and punches toward the peer at full rate meanwhile: when both NATs
   * filter by address and port, the peer's probes to the new port get through only once ours
   * went out to the peer, and the other way round. Sent when the direct path is lost, and when the
   * relay takes over a session that never went direct: always, not only when the address differs
   * from our advertised one, since the session cannot know which address the peer was handed (the
   * server's copy of our registration, which may predate our last STUN refresh); a peer that knows
   * it already drops it without punching again.
   */
  #trickle(): void {
    const discover = this.deps.discover;
    if (!discover || this.#closed) return;
    this.#trickleSends++;
    void discover().then((mapped) => {
      const relay = this.#relay;
      if (!mapped || !relay || this.#closed || this.#direct) return;
      const packet = encodeTrickle(
        {
          sessionId: this.spec.sessionId,
          sender: this.#trickleSender,
          generation: ++this.#trickleGeneration,
          candidates: [mapped],
        },
        this.key,
        randomBytes(12),
      );
      relay.send(packet);
      this.#punchAgain();
    });
  }

  /** A trickle from the relay: authentic, the peer's own (not ours reflected) and newer than the last. */
  #onTrickle(packet: Buffer): void {
    const decoded = decodeTrickle(packet, this.key, this.spec.sessionId);
    if (!decoded.ok || this.#closed) return;
    const { sender, generation, candidates } = decoded.message;
    if (sender.equals(this.#trickleSender) || generation <= this.#peerGeneration) return;
    this.#peerGeneration = generation;
    let added = false;
    for (const candidate of candidates) {
      const known = [...this.#candidates, ...this.#trickled];
      if (known.some((k) => sameEndpoint(k, candidate))) continue;
      this.#trickled.push(candidate);
      if (this.#trickled.length > MAX_TRICKLE_CANDIDATES) this.#trickled.shift();
      added = true;
    }
    // The peer lost the direct path: check ours now (it confirms with probes, as for relayed QUIC).
    if (this.#direct) {
      if (this.#settled()) this.#liveness.suspect();
      return;
    }
    if (added || this.#lost) this.#punchAgain();
  }

  /**
   * The direct path has carried the session a while: relayed packets then mean the peer left it.
   * Just after a move back to direct, they are the peer's last relayed ones (it moves a moment
   * later, and the relay's queue drains): taking them as evidence flapped relay ↔ direct.
   */
  #settled(): boolean {
    return performance.now() - this.#directSince >= this.deps.timing.silenceMs;
  }

  /** Probes every candidate at the punching rate again, from now, for `punchWindowMs`. */
  #punchAgain(): void {
    if (this.#closed || this.#direct) return;
    this.#punchFrom = performance.now();
    clearTimeout(this.#probeTimer);
    this.#probeRound();
  }

  #choose(): void {
    if (this.#closed) return;
    let next: PathInfo | null = null;
    if (this.#direct) next = { sessionId: this.spec.sessionId, kind: 'direct', remote: this.#direct };
    else if (this.#relayUp && (this.#graceOver || this.spec.preferRelay || this.#peerOnRelay)) {
      next = { sessionId: this.spec.sessionId, kind: 'relay', remote: null };
      if (this.#lost) next.lost = this.#lost;
    }
    const same =
      next?.kind === this.#current?.kind &&
      next?.remote?.address === this.#current?.remote?.address &&
      next?.remote?.port === this.#current?.remote?.port;
    if (same) return;
    this.#current = next;
    this.deps.onPath(next);
    // A session the relay takes over before it ever went direct trickles at once: the address the
    // peer punches toward (our registration's) may be stale, our NAT having rebound since.
    if (next?.kind === 'relay' && !this.#lost && this.#trickleSends === 0) this.#trickle();
  }
}
