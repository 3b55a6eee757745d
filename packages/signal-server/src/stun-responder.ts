import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { answerBinding, decodeStun, isStunPacket } from '@mesh-agent/host/nat';
import { DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';
import { rateLimitKey, SourceLimiter } from './source-limiter.js';

export interface StunResponderOptions {
  /** IP address to bind; `::` also takes IPv4 (dual stack). Default `0.0.0.0`. */
  host?: string;
  /**
   * Two UDP ports on the same address: agents compare the mappings seen from both to tell
   * whether their NAT maps endpoint-independently. 0 picks a free port.
   */
  ports: readonly [number, number];
  /** SOFTWARE in responses; '' for none. Default `mesh-agent`. */
  software?: string;
  /** Answers per source (IPv4 address or IPv6 /64). Default DEFAULT_RATE_LIMIT. */
  rateLimit?: RateLimitOptions;
  /** Sources with a rate-limit bucket of their own at once. Default 10 000. */
  maxSources?: number;
}

export interface StunResponderAddress {
  address: string;
  ports: [number, number];
}

export interface StunResponderCounters {
  /** Binding requests answered, with a success or a 420. */
  answered: number;
  /** Datagrams that were not Binding requests or did not parse. */
  dropped: number;
  /** Binding requests left unanswered because their source was over its rate. */
  rateLimited: number;
}

/**
 * A STUN server (RFC 8489) for Binding requests only, on two ports of one address: it tells
 * each source the address and port it came from. Everything else is dropped without a word, and
 * answers are rate-limited per source, so that spoofed requests cannot turn it into a flood
 * against someone else. An answer is at most about twice the size of its request on the wire.
 */
export class StunResponder {
  readonly #host: string;
  readonly #ports: readonly [number, number];
  readonly #software: string;
  readonly #limiter: SourceLimiter;
  readonly #counters: StunResponderCounters = { answered: 0, dropped: 0, rateLimited: 0 };
  #sockets: Socket[] | undefined;

  constructor(options: StunResponderOptions) {
    const rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    const maxSources = options.maxSources ?? 10_000;
    this.#host = options.host ?? '0.0.0.0';
    this.#ports = options.ports;
    this.#software = options.software ?? 'mesh-agent';
    checkOptions(this.#host, this.#ports, rateLimit, maxSources);
    this.#limiter = new SourceLimiter(rateLimit, maxSources);
  }

  /** A snapshot of what happened to the datagrams received so far. */
  get counters(): StunResponderCounters {
    return { ...this.#counters };
  }

  async start(): Promise<StunResponderAddress> {
    if (this.#sockets) throw new Error('STUN responder already started');
    const sockets: Socket[] = [];
    this.#sockets = sockets;
    try {
      // One after the other: with two zeros, the second bind then gets another free port.
      for (const port of this.#ports) sockets.push(await this.#bind(port));
    } catch (error) {
      await this.stop();
      throw error;
    }
    const [first, second] = sockets.map((s) => s.address());
    return { address: first!.address, ports: [first!.port, second!.port] };
  }

  /** Closes both ports; the responder can be started again afterwards. */
  async stop(): Promise<void> {
    const sockets = this.#sockets ?? [];
    this.#sockets = undefined;
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  async #bind(port: number): Promise<Socket> {
    const socket = createSocket({ type: isIPv6(this.#host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, this.#host, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      socket.close();
      throw error;
    });
    // Once bound, errors are about single datagrams, which UDP may lose anyway.
    socket.on('error', () => {});
    socket.on('message', (packet, from) => this.#onDatagram(socket, packet, from));
    return socket;
  }

  #onDatagram(socket: Socket, packet: Buffer, from: RemoteInfo): void {
    const decoded = from.port !== 0 && isStunPacket(packet) ? decodeStun(packet) : undefined;
    const source = { address: from.address, port: from.port };
    const answer = decoded?.ok
      ? answerBinding(decoded.message, source, { software: this.#software })
      : undefined;
    if (answer === undefined) {
      this.#counters.dropped++;
    } else if (!this.#limiter.take(rateLimitKey(from.address))) {
      this.#counters.rateLimited++;
    } else {
      this.#counters.answered++;
      // A send that fails is a lost datagram; the client retransmits.
      socket.send(answer, from.port, from.address, () => {});
    }
  }
}

function checkOptions(
  host: string,
  ports: readonly number[],
  rateLimit: RateLimitOptions,
  maxSources: number,
): void {
  if (isIP(host) === 0)
    throw new RangeError(`STUN responder host ${JSON.stringify(host)} is not an IP address`);
  if (ports.length !== 2 || !ports.every((p) => Number.isInteger(p) && p >= 0 && p <= 0xffff)) {
    throw new RangeError(`STUN responder needs two ports within 0–65535, not ${JSON.stringify(ports)}`);
  }
  if (ports[0] !== 0 && ports[0] === ports[1]) throw new RangeError('STUN responder ports must differ');
  if (!(rateLimit.messagesPerSecond > 0) || !(rateLimit.burst >= 1)) {
    throw new RangeError('STUN responder rate limit needs messagesPerSecond > 0 and burst ≥ 1');
  }
  if (!Number.isInteger(maxSources) || maxSources < 1) {
    throw new RangeError('STUN responder maxSources must be a positive integer');
  }
}
