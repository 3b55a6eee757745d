import { missingServer } from '../cli/errors.js';
import type { HostConfig } from '../config/schema.js';
import { createHooks, type EventLine, type HostHooks, type PluginEventPayload } from '../hooks/hooks.js';
import type { AgentIdentity } from '../identity/identity.js';
import { signHelloProof } from '../identity/proof.js';
import type { Logger } from '../log/logger.js';
import { PeerUnavailableError } from '../p2p/errors.js';
import { registerHostMessages } from '../p2p/messages.js';
import type { PeerConnection } from '../p2p/peer-connection.js';
import { Reachability } from '../p2p/reachability.js';
import { P2PService } from '../p2p/service.js';
import type { PeerInfo } from '../p2p/types.js';
import { applyPlugins } from '../plugins/apply.js';
import type { AnyMeshPlugin, AppliedPlugin, OpenedStream, PeerTarget, PluginHost } from '../plugins/types.js';
import { QuicEndpoint } from '../quic/index.js';
import { SignalingClient } from '../signaling/client.js';
import type { ErrorData, HelloData, P2pSessionData } from '../signaling/protocol.js';
import { type SessionGrant, TokenCache } from '../tokens/token-cache.js';
import { withTimeout } from '../util/timeout.js';
import { MessageRegistry } from '../wire/registry.js';
import { advertisedAddresses } from './addresses.js';
import { coreEventData } from './core-events.js';
import { type PeerStanding, PeerStandings } from './peer-standings.js';

export const HOST_VERSION = '0.1.0';

/** How long a session request waits for the NAT discovery still under way. */
const STUN_WAIT_MS = 500;

export interface HostOptions {
  config: HostConfig;
  home: string;
  identity: AgentIdentity;
  agentId: string;
  log: Logger;
  plugins: AnyMeshPlugin[];
}

/**
 * - `daemon`: QUIC on the configured address, capabilities advertised to the room.
 * - `oneshot`: a command with the agent's identity next to (or instead of) the daemon: QUIC on
 *   an ephemeral port, nothing advertised, so the server keeps brokering sessions to the daemon.
 * - `signaling`: no data plane at all (`peers`).
 */
export type HostMode = 'daemon' | 'oneshot' | 'signaling';

export interface HostStartOptions {
  /** The stream types announced to the room and served to peers (default: all that plugins handle). */
  advertise?: readonly string[];
}

/**
 * The plugin host: owns config, identity, signaling, the QUIC endpoint, the P2P handshake and
 * the token cache, and exposes them to plugins through `hooks` and the PluginHost interface.
 */
export class Host implements PluginHost {
  readonly hooks: HostHooks = createHooks();
  readonly messages = new MessageRegistry();
  readonly tokens: TokenCache;
  readonly agentId: string;
  readonly config: HostConfig;
  readonly home: string;
  readonly identity: AgentIdentity;
  readonly log: Logger;
  /** Who is in the room and which sessions the server brokered: how each peer reached us. */
  private readonly peerStandings: PeerStandings;
  signaling?: SignalingClient;
  endpoint?: QuicEndpoint;
  p2p?: P2PService;
  private readonly plugins: AnyMeshPlugin[];
  private applied: ReadonlyMap<string, AppliedPlugin> = new Map();
  private readonly events = new Map<string, string>();
  private readonly eventLines = new Map<string, EventLine>();
  private readonly streamTypeNames = new Set<string>();
  /** Responders waiting for a `p2p.session` that raced their peer's dial. */
  private readonly sessionWaiters = new Map<string, () => void>();
  private reach?: Reachability;
  /** The first NAT discovery after the welcome; session requests wait for it (briefly). */
  private natReady: Promise<unknown> = Promise.resolve();
  private started = false;
  private mode: HostMode = 'daemon';
  private advertise?: readonly string[];

  constructor(opts: HostOptions) {
    this.config = opts.config;
    this.home = opts.home;
    this.identity = opts.identity;
    this.agentId = opts.agentId;
    this.log = opts.log;
    this.plugins = opts.plugins;
    this.tokens = new TokenCache(opts.config.tokens);
    this.peerStandings = new PeerStandings(opts.config.signaling.room);
    registerHostMessages(this.messages);
    // Stream types exist once a plugin taps them; the capability list follows from that.
    this.hooks.stream.intercept({
      factory: (key, hook) => {
        this.streamTypeNames.add(String(key));
        return hook;
      },
    });
    this.hooks.event
      .for('p2p.session')
      .tap('host', (env) => this.onSession(coreEventData(env, 'p2p.session')));
  }

  /** Applies every enabled plugin after those it depends on, each with its config section and a child logger. */
  async applyPlugins(): Promise<void> {
    this.applied = await applyPlugins(this.plugins, this.config, (name) => this.viewFor(name));
  }

  /** `plugin`'s validated config and API, or undefined when it was not applied (disabled, failed to load). */
  plugin<P extends AnyMeshPlugin>(plugin: P): AppliedPlugin<P> | undefined {
    // Stored under the name its package declared (importPlugin checked it) by that plugin's `apply`.
    return this.applied.get(plugin.name) as AppliedPlugin<P> | undefined;
  }

  /** Stream types some plugin handles: the agent's advertised capabilities. */
  streamTypes(): string[] {
    return [...this.streamTypeNames].filter((t) => this.hooks.stream.get(t)?.isUsed()).sort();
  }

  declareEvent(name: string, description: string, line?: EventLine): void {
    if (this.events.has(name)) throw new Error(`event ${name} is already declared`);
    this.events.set(name, description);
    if (line) this.eventLines.set(name, line);
  }

  /** The line a person reads for this event (see EventLine), if its plugin gave one. */
  eventLine(name: string, payload: PluginEventPayload): string | undefined {
    try {
      return this.eventLines.get(name)?.(payload);
    } catch (error) {
      // A plugin's wording must not break the daemon.
      this.log.error({ event: name, err: (error as Error).message }, 'event line failed');
      return undefined;
    }
  }

  declaredEvents(): ReadonlyMap<string, string> {
    return this.events;
  }

  emit(name: string, payload: PluginEventPayload): void {
    if (!this.events.has(name)) throw new Error(`event ${name} is emitted but was never declared`);
    // An observer's failure must not break the emitter (a transfer must not fail because a notifier did).
    for (const call of [
      () => this.hooks.pluginEvent.get(name)?.call(payload),
      () => this.hooks.anyPluginEvent.call(name, payload),
    ]) {
      try {
        call();
      } catch (error) {
        this.log.error({ event: name, err: (error as Error).message }, 'event observer failed');
      }
    }
  }

  /**
   * `advertise` narrows the stream types announced to the room and served to peers (default: all
   * that plugins handle), e.g. a terminal share runs as a daemon for `terminal` only, next to the
   * real daemon. A `oneshot` host serves none: its command dials out.
   */
  async start(mode: HostMode = 'daemon', opts: HostStartOptions = {}): Promise<void> {
    if (this.started) throw new Error('host already started');
    this.started = true;
    this.mode = mode;
    this.advertise = opts.advertise;
    await this.hooks.start.promise();
    if (mode !== 'signaling') await this.startDataPlane(mode);
    const url = this.config.signaling.url;
    if (url) {
      this.signaling = new SignalingClient({
        url,
        hello: ({ nonce }) => this.hello(nonce),
        log: this.log.child({ part: 'signaling' }),
        backoff: {
          initialMs: this.config.signaling.reconnectInitialMs,
          maxMs: this.config.signaling.reconnectMaxMs,
        },
      });
      this.signaling.onEvent((env) => this.hooks.event.get(env.type)?.call(env));
      this.signaling.on('welcome', (welcome) => this.onWelcome(welcome.stun?.ports));
      this.signaling.on('members', (room, members) => this.peerStandings.onMembers(room, members));
      this.signaling.start();
    }
    await this.hooks.ready.promise();
  }

  /**
   * Settles if the signaling server refuses this agent's credentials (it will not retry; never
   * without signaling). The caller reports the refusal: nothing logs it then.
   */
  untilRefused(): Promise<ErrorData> {
    return this.signaling?.whenRefused() ?? new Promise(() => {});
  }

  private async startDataPlane(mode: HostMode): Promise<void> {
    const { host, port, ...options } = this.config.quic;
    this.endpoint = await QuicEndpoint.listen({
      host,
      port: mode === 'daemon' ? port : 0,
      identity: this.identity,
      options,
      log: this.log.child({ part: 'quic' }),
    });
    this.p2p = new P2PService({
      endpoint: this.endpoint,
      tokens: this.tokens,
      registry: this.messages,
      hooks: this.hooks,
      agentId: this.agentId,
      log: this.log.child({ part: 'p2p' }),
      awaitSession: (id, ms) => this.awaitSession(id, ms),
      route: (grant) => this.reach!.route(grant),
      pathOf: (sessionId) => this.pathOf(sessionId),
      limits: this.config.p2p,
      serves: (type) => this.serves(type),
    });
    const nat = this.config.nat;
    this.reach = new Reachability({
      endpoint: this.endpoint,
      log: this.log.child({ part: 'nat' }),
      hostAddresses: () => this.listenAddresses(),
      stunServers: nat.stunServers,
      signalingUrl: () => this.signaling?.url,
    });
    this.hooks.peerDisconnected.tap('host', (info) => this.reach?.release(info.sessionId));
  }

  /** Learns the NAT kind and candidates from this socket, and tells the server (daemons). */
  private onWelcome(stunPorts: number[] | undefined): void {
    const reach = this.reach;
    if (!reach || !this.config.nat.traversal) return;
    reach.useServerStun(stunPorts);
    const announce = () => {
      if (this.mode !== 'daemon') return;
      try {
        this.signaling?.send('p2p.candidates', { candidates: reach.candidates(), nat: reach.nat.kind });
      } catch (error) {
        this.log.debug({ err: (error as Error).message }, 'could not announce candidates');
      }
    };
    this.natReady = reach.discover().then((state) => {
      this.log.info({ nat: state.kind, mapped: state.mapped }, 'nat discovered');
      announce();
    });
    if (this.mode === 'daemon') reach.keepFresh(announce);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.hooks.stop.promise();
    this.reach?.stop();
    await this.p2p?.close();
    await this.signaling?.stop();
    await this.endpoint?.close();
  }

  /** Opens a stream of `streamType` to a peer, brokering a session through the control plane when needed. */
  async openStream(
    target: PeerTarget,
    streamType: string,
    fields: Record<string, unknown> = {},
  ): Promise<OpenedStream> {
    const connection = await this.connect(target, streamType);
    return { peer: connection.peer, connection, channel: await connection.openStream(streamType, fields) };
  }

  /** An authenticated connection to the peer: an existing one, or a new session. */
  async connect(target: PeerTarget, streamType: string): Promise<PeerConnection> {
    const p2p = this.requireStarted();
    if ('agentId' in target) {
      const existing = p2p.find(target.agentId, streamType);
      if (existing) return existing;
      const signaling = this.signaling;
      if (!signaling)
        throw missingServer(
          `reach agent ${target.agentId}`,
          'or reach the peer in direct mode: --peer-addr, --session-id, --token-file, --peer-fingerprint',
        );
      await signaling.whenConnected(10_000);
      // Candidates go with the request, so the peer can probe us at once; discovery takes one round
      // trip. Without an answer by then (UDP blocked, or a slow STUN server), the session starts on
      // the relay and moves to a direct path if one answers later.
      await withTimeout(this.natReady, STUN_WAIT_MS).catch(() => {});
      const reach = this.reach;
      const traversal = reach && this.config.nat.traversal;
      const reply = await signaling.request(
        'p2p.request',
        {
          peer_id: target.agentId,
          stream_type: streamType,
          ...(traversal ? { candidates: reach.candidates(), nat: reach.nat.kind } : {}),
        },
        { timeoutMs: 10_000 },
      );
      if (reply.type === 'system.error') {
        const error = coreEventData(reply, 'system.error');
        throw new PeerUnavailableError(target.agentId, error.code, error.message);
      }
      return p2p.dial(this.grantFrom(coreEventData(reply, 'p2p.session')));
    }
    return p2p.dial({
      sessionId: target.sessionId,
      token: target.token,
      expiresAt: Number.POSITIVE_INFINITY,
      peerFingerprint: target.fingerprint,
      peerAddresses: [{ address: target.address, port: target.port }],
      role: 'initiator',
    });
  }

  standing(peer: PeerInfo): PeerStanding {
    return this.peerStandings.standing(peer);
  }

  /** Whether a peer may open a stream of `streamType` here (see `start`). */
  private serves(streamType: string): boolean {
    return this.mode !== 'oneshot' && (this.advertise?.includes(streamType) ?? true);
  }

  /** Sends a plugin event to another agent through the signaling server, once connected. */
  async relay(to: string, type: string, data: Record<string, unknown> = {}): Promise<void> {
    if (!this.signaling) throw missingServer(`send ${type} to ${to}`);
    await this.signaling.whenConnected(10_000);
    this.signaling.send(type, { ...data, to });
  }

  /** Accepts a direct-mode session whose token was handed over out of band. */
  acceptDirect(grant: Omit<SessionGrant, 'role' | 'peerAddresses'>): void {
    this.tokens.add({ ...grant, role: 'responder', peerAddresses: [] });
  }

  status() {
    return {
      agentId: this.agentId,
      fingerprint: this.identity.fingerprint,
      signaling: { url: this.signaling?.url ?? null, state: this.signaling?.state ?? 'disabled' },
      listen: this.listenAddresses(),
      capabilities: this.streamTypes(),
      sessions: this.tokens.list(),
      nat: this.reach ? { kind: this.reach.nat.kind, candidates: this.reach.candidates() } : null,
      peers: (this.p2p?.connections() ?? []).map((peer) => ({ ...peer, path: this.pathOf(peer.sessionId) })),
      activeStreams: this.p2p?.streamCount ?? 0,
    };
  }

  /**
   * `status()` with each peer connection's QUIC statistics (RTT, cwnd, bytes, losses) and how the
   * endpoint's datagrams leave (GSO, sendmmsg or node:dgram, and why not GSO).
   */
  async statusWithStats() {
    const [peers, endpoint] = await Promise.all([
      Promise.all(
        [...(this.p2p?.peerConnections() ?? [])].map(async (peer) => ({
          ...peer.peer,
          path: this.pathOf(peer.peer.sessionId),
          stats: await withTimeout(peer.quic.stats(), 2_000).catch(() => null),
        })),
      ),
      this.endpoint ? withTimeout(this.endpoint.stats(), 2_000).catch(() => null) : null,
    ]);
    return { ...this.status(), peers, udp: endpoint?.udp ?? null };
  }

  private hello(nonce: string): HelloData {
    const advertise = this.mode === 'daemon';
    const capabilities = this.streamTypes().filter((type) => this.advertise?.includes(type) ?? true);
    return {
      agent_id: this.agentId,
      version: HOST_VERSION,
      capabilities: advertise ? capabilities : [],
      addresses: advertise ? this.listenAddresses() : [],
      fingerprint: this.identity.fingerprint,
      room: this.config.signaling.room,
      ...(this.config.signaling.token ? { token: this.config.signaling.token } : {}),
      ...signHelloProof(this.identity, nonce, this.agentId, this.identity.fingerprint),
    };
  }

  /** `direct` or `relay`: which path carries a session's connection (`direct` when nothing was punched). */
  pathOf(sessionId: string): 'direct' | 'relay' {
    return this.reach?.pathOf(sessionId)?.kind ?? 'direct';
  }

  private listenAddresses() {
    return this.endpoint ? advertisedAddresses(this.config.quic.host, this.endpoint.address().port) : [];
  }

  private grantFrom(d: P2pSessionData): SessionGrant {
    return {
      sessionId: d.session_id,
      token: d.token,
      expiresAt: d.expires_at,
      peerId: d.peer_id,
      peerFingerprint: d.peer_fingerprint,
      peerAddresses: d.peer_addresses,
      role: d.role,
      streamType: d.stream_type,
      ...(this.config.nat.traversal && d.peer_candidates ? { peerCandidates: d.peer_candidates } : {}),
      ...(d.peer_nat ? { peerNat: d.peer_nat } : {}),
      ...(d.relay ? { relay: d.relay } : {}),
    };
  }

  private onSession(session: P2pSessionData): void {
    // Both roles cache the session (status shows it; either side may dial, as hole punching needs).
    const grant = this.grantFrom(session);
    this.tokens.add(grant);
    this.peerStandings.onSession(session.session_id, session.peer_id);
    // Both sides start probing now: the server told both at the same moment.
    if (grant.role === 'responder' && this.config.nat.traversal) this.reach?.prepare(grant);
    this.sessionWaiters.get(session.session_id)?.();
  }

  private async awaitSession(sessionId: string, ms: number): Promise<void> {
    // Only the control plane announces sessions; without it there is nothing to wait for.
    if (!this.signaling || this.tokens.get(sessionId)) return;
    const announced = new Promise<void>((resolve) => this.sessionWaiters.set(sessionId, resolve));
    await withTimeout(announced, ms, () => new Error('session never announced')).finally(() =>
      this.sessionWaiters.delete(sessionId),
    );
  }

  private requireStarted(): P2PService {
    if (!this.p2p) throw new Error('host not started');
    return this.p2p;
  }

  private viewFor(pluginName: string): PluginHost {
    const view: PluginHost = {
      hooks: this.hooks,
      agentId: this.agentId,
      config: this.config,
      home: this.home,
      log: this.log.child({ plugin: pluginName }),
      messages: this.messages,
      declareEvent: (name, description, line) => this.declareEvent(name, description, line),
      emit: (name, payload) => this.emit(name, payload),
      declaredEvents: () => this.declaredEvents(),
      openStream: (target, streamType, fields) => this.openStream(target, streamType, fields),
      acceptDirect: (grant) => this.acceptDirect(grant),
      standing: (peer) => this.standing(peer),
      relay: (to, type, data) => this.relay(to, type, data),
    };
    return Object.freeze(view);
  }
}
