import type { BatchUdp } from '@mesh-agent/udp-batch';
import { answerBinding } from '../../nat/binding-answer.js';
import { BindingTransactions } from '../../nat/binding-transactions.js';
import type { Endpoint } from '../../nat/ip.js';
import { BINDING, decodeStun } from '../../nat/stun.js';
import { readUsername } from '../../nat/stun-attributes.js';
import { verifyIntegrity } from '../../nat/stun-integrity.js';
import type { DriverCounters } from '../driver/stats.js';
import { type PathInfo, PUNCH_CLOSED, type PunchSpec } from '../protocol.js';
import { endpointKey, isMappedAddress, mappedAddress } from './mapped-address.js';
import { DEFAULT_PUNCH_TIMING, PunchSession, type PunchTiming } from './punch-session.js';

/** Signed probes a session answers per second at most: enough for punching, not for a flood. */
const PROBE_ANSWERS_PER_SECOND = 100;
/** Transaction ids remembered per session, to drop replayed probes. */
const SEEN_PROBES = 4_096;

export interface PacketLayerEvents {
  /** A QUIC datagram for the driver, from a real or a mapped address. */
  quic(packet: Buffer, from: Endpoint): void;
  /** The session at `mapped` changed its path. */
  path(path: PathInfo, mapped: Endpoint): void;
  /** The session lost its only path (the relay went away, no direct path): its QUIC connection is dead. */
  pathLost(mapped: Endpoint, reason: string): void;
}

interface SessionEntry {
  session: PunchSession;
  mapped: Endpoint;
  seen: Set<string>;
  answeredThisSecond: number;
  second: number;
  /** Settles the punch command: first path, or failure. */
  settle: ((result: { mapped: Endpoint; path: PathInfo } | { error: string }) => void) | null;
}

/**
 * The agent's one UDP socket, below QUIC: QUIC packets and STUN (server discovery, and the
 * signed probes of hole punching) share it, told apart by the first byte (RFC 9443), so the NAT
 * mapping a probe opens is the one QUIC uses. Peers of brokered sessions appear to QUIC at a
 * mapped address per session (see mapped-address.ts); this layer routes their packets over the
 * session's current path, direct or relayed.
 */
export class PacketLayer {
  readonly #sessions = new Map<string, SessionEntry>();
  readonly #byMapped = new Map<string, SessionEntry>();
  #nextMapped = 1;
  readonly #discovery: BindingTransactions;
  readonly #probes: BindingTransactions;

  constructor(
    /** The socket's I/O: every datagram goes through it, so a batch never overtakes a single send. */
    private readonly io: BatchUdp,
    private readonly counters: DriverCounters,
    private readonly events: PacketLayerEvents,
    private readonly timing: PunchTiming = DEFAULT_PUNCH_TIMING,
  ) {
    const sendUdp = (packet: Uint8Array, address: string, port: number) =>
      this.sendUdp(packet, address, port);
    this.#discovery = new BindingTransactions({ send: sendUdp, rtoMs: 300, maxSends: 4, deadlineMs: 3_000 });
    // One request per probe round: rounds are the retransmissions.
    this.#probes = new BindingTransactions({ send: sendUdp, rtoMs: 1_000, maxSends: 1, deadlineMs: 1_500 });
  }

  /** Which path a session's packets take now. */
  pathOf(sessionId: string): PathInfo | null {
    return this.#sessions.get(sessionId)?.session.path ?? null;
  }

  // ---- inbound ------------------------------------------------------------------------------

  /**
   * Every datagram the socket receives. Its bytes may be a slab the next read overwrites: QUIC
   * consumes them before returning; STUN, whose transactions settle later, gets a copy.
   */
  receive(packet: Buffer, address: string, port: number): void {
    this.counters.datagramsIn++;
    this.counters.bytesIn += packet.length;
    const first = packet[0];
    if (first !== undefined && (first & 0xc0) === 0) {
      this.#onStun(Buffer.from(packet), { address, port });
      return;
    }
    if (this.#byMapped.size > 0) {
      const entry = this.#fromPeer(address, port);
      if (entry) {
        this.events.quic(packet, entry.mapped);
        entry.session.quicFrom(address, port);
        return;
      }
    }
    this.events.quic(packet, { address, port });
  }

  /**
   * An authentic QUIC packet of the session at `mapped` came from `from`, an address no probe of
   * the session proved (its peer's NAT may have rebound): the session checks it (see `quicFrom`).
   */
  peerSeenAt(mapped: Endpoint, from: Endpoint): void {
    this.#byMapped.get(endpointKey(mapped.address, mapped.port))?.session.quicFrom(from.address, from.port);
  }

  #fromPeer(address: string, port: number): SessionEntry | undefined {
    const key = endpointKey(address, port);
    for (const entry of this.#sessions.values()) if (entry.session.peerAddresses.has(key)) return entry;
    return undefined;
  }

  #onStun(packet: Buffer, from: Endpoint): void {
    if (this.#discovery.receive(packet, from) || this.#probes.receive(packet, from)) return;
    const decoded = decodeStun(packet);
    if (!decoded.ok) {
      this.counters.droppedProbes++;
      return;
    }
    const message = decoded.message;
    if (message.class !== 'request' || message.method !== BINDING) {
      this.counters.droppedProbes++;
      return;
    }
    const sessionId = readUsername(message);
    const entry = sessionId === undefined ? undefined : this.#sessions.get(sessionId);
    // Unknown sessions, bad MACs and replays go unanswered: nothing to learn, nothing to reflect.
    if (!entry || !verifyIntegrity(message, entry.session.key)) {
      this.counters.droppedProbes++;
      return;
    }
    const id = message.transactionId.toString('hex');
    if (entry.seen.has(id) || !this.#withinRate(entry)) {
      this.counters.droppedProbes++;
      return;
    }
    entry.seen.add(id);
    if (entry.seen.size > SEEN_PROBES) entry.seen.delete(entry.seen.values().next().value as string);
    const answer = answerBinding(message, from, { integrityKey: entry.session.key });
    if (answer) this.sendUdp(answer, from.address, from.port);
    entry.session.probedFrom(from);
  }

  #withinRate(entry: SessionEntry): boolean {
    const second = Math.floor(performance.now() / 1000);
    if (second !== entry.second) {
      entry.second = second;
      entry.answeredThisSecond = 0;
    }
    return ++entry.answeredThisSecond <= PROBE_ANSWERS_PER_SECOND;
  }

  // ---- outbound -----------------------------------------------------------------------------

  /** A QUIC datagram to `address`: straight out, or over the path of the session it is mapped to. */
  send(packet: Uint8Array, address: string, port: number): void {
    if (isMappedAddress(address)) {
      const entry = this.#byMapped.get(endpointKey(address, port));
      if (entry?.session.send(packet)) this.#countOut(packet.length);
      else this.counters.droppedDatagrams++;
      return;
    }
    this.sendUdp(packet, address, port);
  }

  sendUdp(packet: Uint8Array, address: string, port: number): void {
    this.sendTrain(packet, 0, packet.length, packet.length, address, port);
  }

  /**
   * Where QUIC datagrams to `address` go out as plain UDP: the address itself, or a punched
   * session's direct path; null while a session has no path or uses the relay. Asked right
   * before packets go out, so the session counts them for its direct path's liveness.
   */
  udpRoute(address: string, port: number): Endpoint | null {
    if (!isMappedAddress(address)) return { address, port };
    return this.#byMapped.get(endpointKey(address, port))?.session.directRoute() ?? null;
  }

  /** `length` bytes at `offset` as datagrams of `segmentSize` bytes (the last may be shorter) to a real address. */
  sendTrain(
    buf: Uint8Array,
    offset: number,
    length: number,
    segmentSize: number,
    address: string,
    port: number,
  ): void {
    this.io.sendSegments(buf, offset, length, segmentSize, address, port);
    this.counters.datagramsOut += Math.ceil(length / segmentSize);
    this.counters.bytesOut += length;
  }

  /** Nothing sent is still waiting in node:dgram: the buffers of earlier sends may be reused. */
  idle(): boolean {
    return this.io.idle();
  }

  #countOut(bytes: number): void {
    this.counters.datagramsOut++;
    this.counters.bytesOut += bytes;
  }

  // ---- sessions and discovery ---------------------------------------------------------------

  /** The server-reflexive address each server reports, null where none answered. */
  async discover(servers: readonly Endpoint[]): Promise<Array<Endpoint | null>> {
    return Promise.all(servers.map(async (server) => (await this.#discovery.mappedAddress(server)) ?? null));
  }

  /** Starts punching for a session; resolves with its mapped address once it has a path. */
  punch(spec: PunchSpec): Promise<{ mapped: Endpoint; path: PathInfo } | { error: string }> {
    this.unpunch(spec.sessionId);
    const mapped = mappedAddress(this.#nextMapped++);
    return new Promise((resolve) => {
      const entry: SessionEntry = {
        mapped,
        seen: new Set(),
        answeredThisSecond: 0,
        second: 0,
        settle: resolve,
        session: new PunchSession(spec, {
          probes: this.#probes,
          // Counted by send(), like relayed datagrams.
          sendUdp: (packet, address, port) =>
            this.io.sendSegments(packet, 0, packet.length, packet.length, address, port),
          deliver: (packet) => this.events.quic(packet, mapped),
          onPath: (path) => {
            if (!path) {
              if (!entry.settle)
                this.events.pathLost(mapped, 'the relay connection was lost and there is no direct path');
              return;
            }
            if (entry.settle) {
              entry.settle({ mapped, path });
              entry.settle = null;
            } else this.events.path(path, mapped);
          },
          onFailed: (error) => {
            entry.settle?.({ error });
            entry.settle = null;
          },
          discover: async () => {
            for (const server of spec.stunServers ?? []) {
              const mapped = await this.#discovery.mappedAddress(server);
              if (mapped) return mapped;
            }
            return null;
          },
          timing: this.timing,
        }),
      };
      this.#sessions.set(spec.sessionId, entry);
      this.#byMapped.set(endpointKey(mapped.address, mapped.port), entry);
      entry.session.start();
    });
  }

  unpunch(sessionId: string): void {
    const entry = this.#sessions.get(sessionId);
    if (!entry) return;
    entry.session.close();
    entry.settle?.({ error: PUNCH_CLOSED });
    this.#sessions.delete(sessionId);
    this.#byMapped.delete(endpointKey(entry.mapped.address, entry.mapped.port));
  }

  close(): void {
    for (const sessionId of [...this.#sessions.keys()]) this.unpunch(sessionId);
    this.#discovery.close();
    this.#probes.close();
  }
}
