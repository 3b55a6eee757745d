import { EventEmitter } from 'node:events';
import { type RawData, WebSocket } from 'ws';
import { SILENT_LOGGER, type SignalingLogger } from '../signaling/protocol.js';
import {
  MAX_UDP_PAYLOAD_BYTES,
  parseRelayServerMessage,
  RELAY_CLOSE_CODES,
  type RelayErrorCode,
  type RelayPeerState,
} from './relay-protocol.js';
import { TickCorker } from './tick-corker.js';

export interface RelayClientOptions {
  /** `ws://host:port/relay` (or `wss://…`). */
  url: string;
  /** The relay grant the signal server minted for this agent and session. Never logged. */
  grant: string;
  log?: SignalingLogger;
  /** `send` drops datagrams while the socket holds more than this unsent. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** How long `connect` may take, handshake and bind included. Default 10 s. */
  connectTimeoutMs?: number;
}

export type RelayClientErrorCode = RelayErrorCode | 'timeout' | 'closed' | 'protocol';

/** Why `connect` failed: the relay's own `relay.error` code, or what happened to the socket. */
export class RelayClientError extends Error {
  override readonly name = 'RelayClientError';
  constructor(
    readonly code: RelayClientErrorCode,
    message: string,
    /** The WebSocket close code, when the socket closed. */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

export type RelayClientEvents = {
  /** One datagram from the peer, exactly as it sent it. */
  datagram: [datagram: Buffer];
  peer: [state: RelayPeerState];
  /** The relay connection ended (after `connect` resolved). */
  close: [code: number, reason: string];
};

const BINARY = { binary: true } as const;

export const DEFAULT_RELAY_CLIENT_BUFFER_BYTES = 1024 * 1024;

/**
 * An agent's end of a relayed session: QUIC datagrams as binary WebSocket messages. Drops what
 * the socket cannot take instead of queueing it, so QUIC sees loss (and backs off) as on UDP.
 * Plain `ws` over `net`, so it runs on a worker thread too.
 */
export class RelayClient extends EventEmitter<RelayClientEvents> {
  readonly #url: string;
  readonly #grant: string;
  readonly #log: SignalingLogger;
  readonly #maxBufferedBytes: number;
  readonly #connectTimeoutMs: number;
  readonly #corker = new TickCorker();
  #ws: WebSocket | undefined;
  #bound = false;
  #peerPresent = false;
  #dropped = 0;

  constructor(options: RelayClientOptions) {
    super();
    this.#url = options.url;
    this.#grant = options.grant;
    this.#log = options.log ?? SILENT_LOGGER;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_RELAY_CLIENT_BUFFER_BYTES;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    if (!(this.#maxBufferedBytes > 0)) throw new RangeError('maxBufferedBytes must be positive');
    if (!(this.#connectTimeoutMs > 0)) throw new RangeError('connectTimeoutMs must be positive');
  }

  /** Whether the other agent of the session is bound to the relay now. */
  get peerPresent(): boolean {
    return this.#peerPresent;
  }

  /** Bytes queued on the socket and not yet written to the network. */
  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  /** Datagrams `send` dropped because the socket was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Opens the socket and binds the grant; resolves once the relay confirmed the bind. */
  connect(): Promise<void> {
    if (this.#ws) return Promise.reject(new Error('RelayClient.connect may be called once'));
    const ws = new WebSocket(this.#url, {
      perMessageDeflate: false,
      maxPayload: MAX_UDP_PAYLOAD_BYTES,
      handshakeTimeout: this.#connectTimeoutMs,
    });
    // Every message arrives as one Buffer (ws joins fragments), which the casts below rely on.
    ws.binaryType = 'nodebuffer';
    this.#ws = ws;
    return new Promise<void>((resolve, reject) => {
      let refusal: RelayClientError | undefined;
      const fail = (error: RelayClientError) => {
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new RelayClientError('timeout', `relay bind took longer than ${this.#connectTimeoutMs} ms`));
        ws.terminate();
      }, this.#connectTimeoutMs);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'relay.bind', grant: this.#grant })));
      ws.on('error', (error) => this.#log.debug({ err: error.message }, 'relay socket error'));
      ws.on('message', (data, isBinary) => {
        if (this.#bound) return this.#onMessage(data, isBinary);
        const message = isBinary ? undefined : parseRelayServerMessage((data as Buffer).toString('utf8'));
        if (message?.type === 'relay.bound') {
          clearTimeout(timer);
          this.#bound = true;
          this.#peerPresent = message.peer === 'present';
          this.#log.debug({ session_id: message.session_id, peer: message.peer }, 'relay bound');
          resolve();
        } else if (message?.type === 'relay.error') {
          refusal = new RelayClientError(message.code, `relay refused the bind: ${message.message}`);
        } else {
          ws.close(RELAY_CLOSE_CODES.protocolError, 'unexpected message before relay.bound');
        }
      });
      ws.on('close', (code, reasonBytes) => {
        const reason = reasonBytes.toString();
        if (!this.#bound) {
          refusal ??= new RelayClientError(
            code === RELAY_CLOSE_CODES.protocolError ? 'protocol' : 'closed',
            `relay closed before the bind completed (${code}${reason ? ` ${reason}` : ''})`,
          );
          return fail(new RelayClientError(refusal.code, refusal.message, code));
        }
        this.#bound = false;
        this.#peerPresent = false;
        this.emit('close', code, reason);
      });
    });
  }

  /**
   * Sends one datagram. False means it was dropped: the socket holds more than the buffer cap
   * (the network or the relay is slower than the sender), or the relay connection is not open.
   */
  send(datagram: Uint8Array): boolean {
    const ws = this.#ws;
    if (!this.#bound || !ws || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > this.#maxBufferedBytes) {
      this.#dropped++;
      return false;
    }
    this.#corker.cork(ws);
    ws.send(datagram, BINARY);
    return true;
  }

  /** Leaves the relay; resolves once the socket has closed. */
  close(): Promise<void> {
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close(RELAY_CLOSE_CODES.normal);
    });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.emit('datagram', data as Buffer);
      return;
    }
    const message = parseRelayServerMessage((data as Buffer).toString('utf8'));
    if (message?.type === 'relay.peer') {
      this.#peerPresent = message.state === 'present';
      this.emit('peer', message.state);
    } else {
      this.#log.debug({ type: message?.type }, 'relay: ignored text message');
    }
  }
}
