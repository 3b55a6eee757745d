import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { normalizeFingerprint } from '../identity/identity.js';
import type { Logger } from '../log/logger.js';
import { type ConnectionChannel, QuicConnection } from './connection.js';
import { type DriverLink, startDriver } from './driver-link.js';
import { FingerprintMismatchError, QuicConnectError, QuicEndpointClosedError } from './errors.js';
import { type QuicOptions, resolveQuicOptions } from './options.js';
import {
  type DriverCommand,
  type DriverEvent,
  type EndpointStats,
  type PathInfo,
  type PunchSpec,
  type RemoteAddress,
  WRITE_BUFFER_SIZE,
} from './protocol.js';
import { ScavengePacer } from './scavenge-pacer.js';

const MAX_POOLED_WRITE_BUFFERS = 32;

export interface QuicListenOptions {
  /** IP address to bind (default 0.0.0.0). */
  host?: string;
  /** UDP port (default 0: any free port). */
  port?: number;
  identity: { keyPem: string; certPem: string };
  /** QUIC tunables; keys that are not QuicOptions (e.g. a config section's host/port) are ignored. */
  options?: Partial<QuicOptions> & Record<string, unknown>;
  log?: Logger;
}

export interface QuicConnectOptions {
  host: string;
  port: number;
  /** SHA-256 fingerprint of the server's certificate (hex, `AA:BB…` or `sha256:…`). */
  expectedFingerprint: string;
}

export interface QuicEndpointEvents {
  connection: [QuicConnection];
  error: [Error];
  /** A punched session's path changed (relay → direct, or back). */
  path: [PathInfo];
}

/** A session's way to its peer, as `punch` found it. */
export interface PunchedPath {
  /** Where QUIC reaches the peer, whatever carries the packets. */
  mapped: RemoteAddress;
  path: PathInfo;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * The agent's QUIC endpoint: one UDP socket that both accepts and dials (as hole punching needs).
 * Incoming connections are emitted as 'connection' once their TLS handshake (with a client
 * certificate) is done. The packet work runs in a driver, by default on a worker thread.
 */
/** Worker-driven endpoints alive in this process (see `listen`). */
let liveWorkerEndpoints = 0;

export class QuicEndpoint extends EventEmitter<QuicEndpointEvents> {
  private readonly connections = new Map<number, QuicConnection>();
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private commands: DriverCommand[] = [];
  private transfer: ArrayBuffer[] = [];
  private flushQueued = false;
  private link: DriverLink | null = null;
  private bound: RemoteAddress = { address: '0.0.0.0', port: 0 };
  private closing: Promise<void> | null = null;
  private readonly channel: ConnectionChannel;
  /** Write buffers the driver handed back; bounded so an idle endpoint does not keep a burst's worth. */
  private readonly writeBuffers: ArrayBuffer[] = [];
  private readonly scavenges = new ScavengePacer();
  private readonly paths = new Map<string, PathInfo>();

  private constructor(
    readonly options: QuicOptions,
    private readonly log?: Logger,
  ) {
    super();
    this.channel = {
      command: (cmd, transfer) => this.command(cmd, transfer),
      request: <T>(build: (req: number) => DriverCommand) => this.request<T>(build),
      allocate: (size) =>
        size === WRITE_BUFFER_SIZE
          ? (this.writeBuffers.pop() ?? new ArrayBuffer(size))
          : new ArrayBuffer(size),
    };
  }

  static async listen(opts: QuicListenOptions): Promise<QuicEndpoint> {
    let options = resolveQuicOptions(opts.options);
    // The quiche addon crashes the process (napi_reference_unref on a freed handle) when two
    // worker threads drive it at once; measured: 2 worker endpoints in one process crash within
    // a few hundred streams, 1 worker + inline never did. An agent runs one endpoint per process;
    // any further endpoint in the same process (tests, embedders) runs inline.
    if (options.driver === 'worker' && liveWorkerEndpoints > 0) {
      opts.log?.debug('another worker-driven QUIC endpoint runs in this process: driving this one inline');
      options = { ...options, driver: 'inline' };
    }
    const endpoint = new QuicEndpoint(options, opts.log);
    if (options.driver === 'worker') liveWorkerEndpoints++;
    try {
      await endpoint.start(opts.host ?? '0.0.0.0', opts.port ?? 0, opts.identity);
    } catch (error) {
      endpoint.releaseWorkerSlot();
      throw error;
    }
    return endpoint;
  }

  private workerSlotReleased = false;

  private releaseWorkerSlot(): void {
    if (this.options.driver !== 'worker' || this.workerSlotReleased) return;
    this.workerSlotReleased = true;
    liveWorkerEndpoints--;
  }

  private start(host: string, port: number, identity: { keyPem: string; certPem: string }): Promise<void> {
    return new Promise((resolve, reject) => {
      const onStart = (event: DriverEvent) => {
        if (event.ev === 'listening') {
          this.bound = { address: event.address, port: event.port };
          this.log?.debug({ address: event.address, port: event.port }, 'quic endpoint listening');
          resolve();
        } else if (event.ev === 'startFailed') {
          void this.link?.dispose();
          reject(new QuicConnectError(`QUIC endpoint failed to start: ${event.error}`));
        }
      };
      let started = false;
      this.link = startDriver(
        { host, port, keyPem: identity.keyPem, certPem: identity.certPem, options: this.options },
        (events) => {
          for (const event of events) {
            if (!started && (event.ev === 'listening' || event.ev === 'startFailed')) {
              started = true;
              onStart(event);
            } else this.dispatch(event);
          }
        },
        (error) => {
          if (!started) {
            started = true;
            reject(error);
            return;
          }
          this.onDriverFailure(error);
        },
      );
    });
  }

  address(): RemoteAddress {
    return { ...this.bound };
  }

  /** Dials a peer and checks its certificate against `expectedFingerprint` before resolving. */
  async connect(opts: QuicConnectOptions): Promise<QuicConnection> {
    if (this.closing) throw new QuicEndpointClosedError();
    const fingerprint = normalizeFingerprint(opts.expectedFingerprint);
    if (!fingerprint)
      throw new QuicConnectError(`invalid certificate fingerprint '${opts.expectedFingerprint}'`);
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65_535) {
      throw new QuicConnectError(`invalid port ${String(opts.port)}`);
    }
    const host = isIP(opts.host) ? opts.host : await this.resolve(opts.host);
    const h = await this.request<number>((req) => ({
      op: 'connect',
      req,
      host,
      port: opts.port,
      fingerprint,
    }));
    const conn = this.connections.get(h);
    if (!conn) throw new QuicConnectError('connection closed during handshake');
    return conn;
  }

  private async resolve(name: string): Promise<string> {
    const family = this.bound.address.includes(':') ? 6 : 4;
    try {
      return (await lookup(name, { family })).address;
    } catch (error) {
      throw new QuicConnectError(`cannot resolve '${name}': ${(error as Error).message}`);
    }
  }

  /** The server-reflexive address of this endpoint's socket as each STUN server sees it (null: no answer). */
  async stun(servers: RemoteAddress[]): Promise<Array<RemoteAddress | null>> {
    if (this.closing) throw new QuicEndpointClosedError();
    return this.request((req) => ({ op: 'stun', req, servers }));
  }

  /**
   * Finds a path to a brokered session's peer: signed probes to its candidates from this very
   * socket (so the NAT mapping is QUIC's), with the relay as fallback. Resolves once a path
   * carries packets; `connect` to `mapped` then reaches the peer over it.
   */
  async punch(spec: PunchSpec): Promise<PunchedPath> {
    if (this.closing) throw new QuicEndpointClosedError();
    const punched = await this.request<PunchedPath>((req) => ({ op: 'punch', req, spec }));
    this.paths.set(spec.sessionId, punched.path);
    return punched;
  }

  /** Stops probing and leaves the relay for a session (its connection is over). */
  unpunch(sessionId: string): void {
    this.paths.delete(sessionId);
    this.command({ op: 'unpunch', sessionId });
  }

  /** The current path of a punched session. */
  pathOf(sessionId: string): PathInfo | undefined {
    return this.paths.get(sessionId);
  }

  async stats(): Promise<EndpointStats> {
    if (this.closing) throw new QuicEndpointClosedError();
    return this.request<EndpointStats>((req) => ({ op: 'stats', req, h: null }));
  }

  /** Closes every connection (code 0, 'endpoint closed'), the socket and the driver thread. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        try {
          await this.request((req) => ({ op: 'shutdown', req }));
        } catch {
          // The driver is already gone.
        }
        await this.link?.dispose();
        this.releaseWorkerSlot();
        this.failAll(new QuicEndpointClosedError());
      })();
    }
    return this.closing;
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private command(cmd: DriverCommand, transfer?: ArrayBuffer): void {
    if (!this.link) return;
    this.commands.push(cmd);
    if (transfer) this.transfer.push(transfer);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // Everything written in one synchronous run crosses to the driver as one message.
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const commands = this.commands;
    const transfer = this.transfer;
    this.commands = [];
    this.transfer = [];
    this.link?.post(commands, transfer);
  };

  private request<T>(build: (req: number) => DriverCommand): Promise<T> {
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { resolve: resolve as (value: unknown) => void, reject });
      this.command(build(req));
    });
  }

  private settle(req: number, value: unknown, error?: Error): void {
    const pending = this.pending.get(req);
    if (!pending) return;
    this.pending.delete(req);
    if (error) pending.reject(error);
    else pending.resolve(value);
  }

  private dispatch(event: DriverEvent): void {
    switch (event.ev) {
      case 'data':
        this.connections.get(event.h)?.stream(event.sid)?.onData(event.data);
        this.scavenges.received(event.data.byteLength);
        break;
      case 'ack':
        this.connections.get(event.h)?.stream(event.sid)?.onAck(event.n);
        break;
      case 'fin':
        this.connections.get(event.h)?.stream(event.sid)?.onFin();
        break;
      case 'reset':
        this.connections.get(event.h)?.stream(event.sid)?.onReset(event.code);
        break;
      case 'stopped':
        this.connections.get(event.h)?.stream(event.sid)?.onStopped(event.code);
        break;
      case 'stream':
        this.connections.get(event.h)?.onPeerStream(event.sid);
        break;
      case 'connected': {
        const conn = new QuicConnection(this.channel, event.h, 'client', event.remote, event.peerFingerprint);
        this.connections.set(event.h, conn);
        this.log?.debug({ remote: event.remote }, 'quic connection established');
        this.settle(event.req, event.h);
        break;
      }
      case 'connectFailed': {
        const error =
          event.expected !== undefined && event.actual !== undefined
            ? new FingerprintMismatchError(event.expected, event.actual)
            : new QuicConnectError(`QUIC connect failed: ${event.error}`);
        this.settle(event.req, undefined, error);
        break;
      }
      case 'accepted': {
        const conn = new QuicConnection(this.channel, event.h, 'server', event.remote, event.peerFingerprint);
        this.connections.set(event.h, conn);
        this.log?.debug({ remote: event.remote }, 'quic connection accepted');
        this.emit('connection', conn);
        break;
      }
      case 'migrated': {
        const conn = this.connections.get(event.h);
        if (conn) conn.remote = event.to;
        this.log?.info({ from: event.from, to: event.to }, 'peer moved');
        break;
      }
      case 'closed': {
        const conn = this.connections.get(event.h);
        this.connections.delete(event.h);
        this.log?.debug({ remote: conn?.remote, ...event.info }, 'quic connection closed');
        conn?.onClosed(event.info);
        break;
      }
      case 'stats':
      case 'stun':
        this.settle(event.req, event.ev === 'stats' ? event.stats : event.mapped);
        break;
      case 'punched':
        this.settle(event.req, { mapped: event.mapped, path: event.path });
        break;
      case 'punchFailed':
        this.settle(event.req, undefined, new QuicConnectError(`no path to the peer: ${event.error}`));
        break;
      case 'path': {
        const { sessionId, kind, remote } = event.path;
        const before = this.paths.get(sessionId);
        if (before) this.paths.set(sessionId, event.path);
        if (event.path.lost)
          this.log?.info({ session_id: sessionId, from: event.path.lost }, 'direct path lost, on the relay');
        else if (before?.lost && remote)
          this.log?.info({ session_id: sessionId, from: before.lost, to: remote }, 'direct path back');
        else if (before?.remote && remote)
          this.log?.info({ session_id: sessionId, from: before.remote, to: remote }, 'peer moved');
        else this.log?.info({ session_id: sessionId, path: kind }, 'peer path changed');
        this.emit('path', event.path);
        break;
      }
      case 'shutdownDone':
        this.settle(event.req, undefined);
        break;
      case 'recycle':
        for (const buffer of event.buffers) {
          if (this.writeBuffers.length < MAX_POOLED_WRITE_BUFFERS) this.writeBuffers.push(buffer);
        }
        break;
      case 'listening':
      case 'startFailed':
        break;
    }
  }

  private onDriverFailure(error: Error): void {
    this.log?.error({ err: error }, 'quic driver failed');
    this.link = null;
    this.failAll(error);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private failAll(error: Error): void {
    for (const [req, pending] of this.pending) {
      this.pending.delete(req);
      pending.reject(error);
    }
    for (const conn of this.connections.values()) {
      conn.onClosed({ code: 0, reason: '', byPeer: false, error: error.message });
    }
    this.connections.clear();
  }
}
