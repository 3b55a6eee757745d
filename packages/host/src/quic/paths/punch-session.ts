import type { BindingTransactions } from '../../nat/binding-transactions.js';
import type { Endpoint } from '../../nat/ip.js';
import { RelayClient } from '../../nat/relay-client.js';
import { usernameAttribute } from '../../nat/stun-attributes.js';
import type { PathInfo, PunchSpec } from '../protocol.js';
import { endpointKey } from './mapped-address.js';

/** Timing of hole punching; tests shorten it. */
export interface PunchTiming {
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
};

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
}

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
  #relay: RelayClient | null = null;
  #relayUp = false;
  #graceOver = false;
  #peerOnRelay = false;
  #current: PathInfo | null = null;
  #closed = false;
  readonly #candidates: Endpoint[];
  readonly #startedAt = performance.now();
  #probeTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: PunchSpec,
    private readonly deps: PunchSessionDeps,
  ) {
    this.key = Buffer.from(spec.key, 'base64');
    this.#candidates = spec.candidates.map((c) => ({ address: c.address, port: c.port }));
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
      this.deps.sendUdp(packet, path.remote!.address, path.remote!.port);
      return true;
    }
    // The relay socket may hold the bytes after send returns; the caller's buffer is reused.
    return this.#relay?.send(Buffer.from(packet)) ?? false;
  }

  /** A signed probe from the peer arrived from `from`: that address is the peer's. */
  probedFrom(from: Endpoint): void {
    const key = endpointKey(from.address, from.port);
    this.peerAddresses.add(key);
    // A triggered check (as in ICE): the peer just opened our NAT toward this address, so try it
    // now; at most once per probe interval per address, so probes never multiply.
    const now = performance.now();
    if (
      this.#direct ||
      now - (this.#triggeredAt.get(key) ?? Number.NEGATIVE_INFINITY) < this.deps.timing.probeIntervalMs
    )
      return;
    this.#triggeredAt.set(key, now);
    this.#probe(from);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#probeTimer);
    clearTimeout(this.#graceTimer);
    void this.#relay?.close();
    this.#relay = null;
  }

  #probeRound(): void {
    if (this.#closed) return;
    const targets = this.#direct ? [this.#direct] : this.#candidates;
    for (const target of targets) this.#probe(target);
    const { probeIntervalMs, punchWindowMs, slowProbeIntervalMs, keepaliveMs } = this.deps.timing;
    const elapsed = performance.now() - this.#startedAt;
    let next: number;
    if (this.#direct) next = keepaliveMs;
    else if (elapsed < punchWindowMs) next = probeIntervalMs;
    else {
      if (!this.#current && !this.#relay) {
        this.deps.onFailed(`no direct path to the peer within ${punchWindowMs} ms and no relay`);
        return;
      }
      next = slowProbeIntervalMs;
    }
    this.#probeTimer = setTimeout(() => this.#probeRound(), next);
  }

  #probe(target: Endpoint): void {
    void this.deps.probes
      .request(target, { attributes: [usernameAttribute(this.spec.sessionId)], integrityKey: this.key })
      .then((outcome) => {
        if (outcome.kind !== 'success' || this.#closed) return;
        this.peerAddresses.add(endpointKey(outcome.from.address, outcome.from.port));
        if (this.#direct) return;
        // The first pair that answered: the peer's packet layer holds the key, so the path is real.
        this.#direct = outcome.from;
        this.#choose();
        clearTimeout(this.#probeTimer);
        this.#probeTimer = setTimeout(() => this.#probeRound(), this.deps.timing.keepaliveMs);
      });
  }

  #openRelay(relay: { url: string; grant: string }): void {
    const client = new RelayClient({ url: relay.url, grant: relay.grant });
    this.#relay = client;
    client.on('datagram', (datagram) => {
      // The peer already sends on the relay: answer there at once rather than after the grace
      // (its first packet would otherwise wait for QUIC's retransmission, a second).
      if (!this.#current) {
        this.#peerOnRelay = true;
        this.#relayUp = true;
        this.#choose();
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

  #choose(): void {
    if (this.#closed) return;
    let next: PathInfo | null = null;
    if (this.#direct) next = { sessionId: this.spec.sessionId, kind: 'direct', remote: this.#direct };
    else if (this.#relayUp && (this.#graceOver || this.spec.preferRelay || this.#peerOnRelay))
      next = { sessionId: this.spec.sessionId, kind: 'relay', remote: null };
    const same =
      next?.kind === this.#current?.kind &&
      next?.remote?.address === this.#current?.remote?.address &&
      next?.remote?.port === this.#current?.remote?.port;
    if (same) return;
    this.#current = next;
    this.deps.onPath(next);
  }
}
