import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Endpoint } from '../nat/ip.js';
import { classifyNat, type NatKind } from '../nat/nat-kind.js';
import { RELAY_PATH } from '../nat/relay-protocol.js';
import type { QuicEndpoint } from '../quic/endpoint.js';
import { QuicEndpointClosedError } from '../quic/errors.js';
import { probeKey } from '../quic/paths/probe-key.js';
import { type PathInfo, PUNCH_CLOSED } from '../quic/protocol.js';
import type { Candidate } from '../signaling/protocol.js';
import type { SessionGrant } from '../tokens/token-cache.js';

/** How often the daemon re-asks STUN: keeps its NAT mapping open (UDP conntrack: 30–120 s) and notices changes. */
export const REFRESH_MS = 20_000;

export interface NatState {
  kind: NatKind;
  /** The socket's address as the first STUN server saw it. */
  mapped: Endpoint | null;
}

export interface ReachabilityOptions {
  endpoint: QuicEndpoint;
  log: Logger;
  /** The socket's own addresses (interface addresses for a wildcard bind). */
  hostAddresses(): Endpoint[];
  /** `host:port` STUN servers from config; else the signaling server's host and announced ports. */
  stunServers?: string[];
  /** The server the agent is connected to now (several nodes: the one that brokered the session). */
  signalingUrl?: () => string | undefined;
}

/**
 * How this agent can be reached and how it reaches peers of brokered sessions: its NAT kind and
 * candidates (STUN from the QUIC socket itself), and, per session, hole punching and the relay
 * through the endpoint's packet layer. Direct-mode sessions and peers on this very machine are
 * dialled at their own addresses, as before.
 */
export class Reachability {
  #nat: NatState = { kind: 'unknown', mapped: null };
  #serverPorts: number[] = [];
  /** The STUN servers the last discovery asked: a punched session asks them again after a rebind. */
  #servers: Endpoint[] = [];
  /** The first discovery has answered (or timed out): the NAT kind means what it says. */
  #settled = false;
  #refresh: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ReachabilityOptions) {}

  get nat(): NatState {
    return this.#nat;
  }

  /** The signaling server announced its STUN ports (at welcome). */
  useServerStun(ports: number[] | undefined): void {
    this.#serverPorts = ports ?? [];
  }

  /** Asks the STUN servers again; resolves with the new state (unchanged when there are none). */
  async discover(): Promise<NatState> {
    const servers = await this.#stunServers();
    this.#servers = servers;
    if (servers.length === 0) {
      this.#settled = true;
      return this.#nat;
    }
    const mapped = await this.opts.endpoint.stun(servers).catch(() => servers.map(() => null));
    const local = this.opts.hostAddresses();
    const kind = classifyNat([mapped[0] ?? undefined, mapped[1] ?? undefined], local);
    this.#nat = { kind, mapped: mapped.find((m) => m !== null) ?? null };
    this.#settled = true;
    return this.#nat;
  }

  /** Keeps discovering every 20 s and calls `changed` when the candidates moved. */
  keepFresh(changed: (state: NatState) => void): void {
    clearInterval(this.#refresh);
    this.#refresh = setInterval(() => {
      const before = JSON.stringify(this.#nat);
      void this.discover().then((state) => {
        if (JSON.stringify(state) !== before) changed(state);
      });
    }, REFRESH_MS);
    this.#refresh.unref();
  }

  stop(): void {
    clearInterval(this.#refresh);
  }

  /**
   * Where peers may reach this socket. Loopback stays in the list (a peer on this machine dials it)
   * but peers never probe it: on their machine it is theirs.
   */
  candidates(): Candidate[] {
    const host: Candidate[] = this.opts.hostAddresses().map((a) => ({ ...a, type: 'host' }));
    const mapped = this.#nat.mapped;
    const isHost = mapped && host.some((h) => h.address === mapped.address && h.port === mapped.port);
    return mapped && !isHost ? [...host, { ...mapped, type: 'srflx' }] : host;
  }

  /**
   * Where to dial a session's peer: its own addresses in direct mode or on this machine (over
   * loopback), else the mapped address of a punched or relayed path.
   */
  async route(grant: SessionGrant): Promise<Endpoint[]> {
    const local = this.#sameHost(grant);
    if (local) return [local];
    if (!grant.peerCandidates) return grant.peerAddresses;
    const { mapped, path } = await this.opts.endpoint.punch(this.#punchSpec(grant));
    this.#logPath(path, grant);
    return [mapped];
  }

  /** The responder's side of a brokered session: answer the peer's probes, join the relay. */
  prepare(grant: SessionGrant): void {
    if (!grant.peerCandidates || this.#sameHost(grant)) return;
    this.opts.endpoint.punch(this.#punchSpec(grant)).then(
      ({ path }) => this.#logPath(path, grant),
      (error: Error) => {
        // Closed here (the peer came over loopback, or the agent stops): nothing went wrong.
        const closed = error.message.endsWith(PUNCH_CLOSED) || error instanceof QuicEndpointClosedError;
        this.opts.log[closed ? 'debug' : 'warn'](
          { session_id: grant.sessionId, err: error.message },
          'no path to the peer',
        );
      },
    );
  }

  /** The session's path (punched sessions), for status and `--json` output. */
  pathOf(sessionId: string): PathInfo | undefined {
    return this.opts.endpoint.pathOf(sessionId);
  }

  /**
   * The session's connection is over: stop probing and leave the relay. Also when no path was
   * found: a peer that came another way (over loopback) leaves the punch waiting until the end.
   */
  release(sessionId: string): void {
    this.opts.endpoint.unpunch(sessionId);
  }

  #punchSpec(grant: SessionGrant) {
    const peerNat = grant.peerNat ?? 'unknown';
    const hopeless = (kind: NatKind) => kind === 'endpoint-dependent' || kind === 'udp-blocked';
    const signalingUrl = this.opts.signalingUrl?.();
    const relay = grant.relay && signalingUrl ? relayOf(grant.relay, signalingUrl) : undefined;
    return {
      sessionId: grant.sessionId,
      key: probeKey(grant.token).toString('base64'),
      candidates: (grant.peerCandidates ?? [])
        .filter((c) => !isLoopbackAddress(c.address))
        .map(({ address, port }) => ({ address, port })),
      ...(relay ? { relay } : {}),
      ...(this.#servers.length > 0 ? { stunServers: this.#servers } : {}),
      // Two NATs that map per destination never meet directly: don't make the relay wait. Nor
      // when STUN has not answered yet (UDP may be blocked here): probing goes on, and a direct
      // path that answers later takes over.
      preferRelay:
        !this.#settled ||
        this.#nat.kind === 'udp-blocked' ||
        peerNat === 'udp-blocked' ||
        (hopeless(this.#nat.kind) && hopeless(peerNat)),
    };
  }

  /**
   * A peer with one of our interface addresses is on this machine: dial it over loopback when it
   * listens there too (datagrams may be large), else at that address. So is a peer that lists
   * loopback only: nothing else reaches it. Loopback addresses alone prove nothing more.
   */
  #sameHost(grant: SessionGrant): Endpoint | undefined {
    const peerHosts = [
      ...(grant.peerCandidates ?? []).filter((c) => c.type === 'host'),
      ...grant.peerAddresses,
    ];
    const loopback = peerHosts.find((c) => isLoopbackAddress(c.address));
    const routable = peerHosts.filter((c) => !isLoopbackAddress(c.address));
    const own = new Set(this.opts.hostAddresses().map((a) => a.address));
    const mine = routable.find((c) => own.has(c.address));
    const target = routable.length === 0 || mine ? (loopback ?? mine) : undefined;
    return target && { address: target.address, port: target.port };
  }

  #logPath(path: PathInfo, grant: SessionGrant): void {
    this.opts.log.info(
      { session_id: grant.sessionId, peer: grant.peerId, path: path.kind, remote: path.remote },
      'peer path ready',
    );
  }

  async #stunServers(): Promise<Endpoint[]> {
    const specs = this.opts.stunServers;
    if (specs && specs.length > 0) return (await Promise.all(specs.map(resolveHostPort))).flat();
    const signalingUrl = this.opts.signalingUrl?.();
    if (!signalingUrl || this.#serverPorts.length === 0) return [];
    const host = new URL(signalingUrl).hostname.replace(/^\[|\]$/g, '');
    const address = await resolveIpv4(host);
    return address ? this.#serverPorts.map((port) => ({ address, port })) : [];
  }
}

function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/** The relay URL: the session's own, or the signaling server's `/relay`. */
function relayOf(relay: { grant: string; url?: string }, signalingUrl: string) {
  const url = relay.url ?? new URL(RELAY_PATH, signalingUrl).href;
  return { url, grant: relay.grant };
}

async function resolveIpv4(host: string): Promise<string | undefined> {
  if (isIP(host) === 4) return host;
  if (isIP(host) === 6) return undefined;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    return undefined;
  }
}

async function resolveHostPort(spec: string): Promise<Endpoint[]> {
  const colon = spec.lastIndexOf(':');
  const address = await resolveIpv4(spec.slice(0, colon).replace(/^\[|\]$/g, ''));
  return address ? [{ address, port: Number(spec.slice(colon + 1)) }] : [];
}
