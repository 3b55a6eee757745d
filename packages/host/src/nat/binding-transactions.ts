import { randomBytes } from 'node:crypto';
import type { Endpoint } from './ip.js';
import { BINDING, decodeStun, encodeStun, type StunAttribute, TRANSACTION_ID_LENGTH } from './stun.js';
import {
  readErrorCode,
  readMappedAddress,
  readXorMappedAddress,
  type StunErrorCode,
} from './stun-attributes.js';
import { verifyIntegrity } from './stun-integrity.js';

export interface BindingTransactionsOptions {
  /** Sends one datagram; a throw counts as a lost packet. */
  send(packet: Buffer, address: string, port: number): void;
  /** Wait before the first retransmit, doubled after each; default 500 ms (RFC 8489 §6.2.1). */
  rtoMs?: number;
  /** Transmissions per request, the first included; default 7 (Rc). */
  maxSends?: number;
  /**
   * When a request without an answer gives up, from its first send; default 16 RTOs after the
   * last send (Rm), 39.5 s with the default RTO.
   */
  deadlineMs?: number;
}

export interface BindingRequestOptions {
  /** Extra attributes such as USERNAME, before the integrity and FINGERPRINT ones. */
  attributes?: readonly StunAttribute[];
  /** Signs the request with MESSAGE-INTEGRITY-SHA256 and accepts only responses signed with it. */
  integrityKey?: Uint8Array;
}

export type BindingOutcome =
  | { kind: 'success'; mapped: Endpoint; from: Endpoint }
  | ({ kind: 'error'; from: Endpoint } & StunErrorCode)
  | { kind: 'timeout' }
  | { kind: 'closed' };

interface Transaction {
  packet: Buffer;
  server: Endpoint;
  integrityKey: Uint8Array | undefined;
  resolve(outcome: BindingOutcome): void;
  retransmit: NodeJS.Timeout | undefined;
  deadline: NodeJS.Timeout;
}

/**
 * Client side of STUN Binding transactions over a transport it does not own: it hands datagrams
 * to `send` and is fed every STUN datagram received on the same socket (`receive`), so it can
 * run wherever the socket lives, such as the QUIC driver's worker thread. Requests are
 * retransmitted until answered or out of time; responses are matched by transaction id and
 * anything else (unknown ids, repeats, unverifiable answers) is ignored.
 */
export class BindingTransactions {
  readonly #send: BindingTransactionsOptions['send'];
  readonly #rtoMs: number;
  readonly #maxSends: number;
  readonly #deadlineMs: number;
  /** By transaction id in hex. */
  readonly #pending = new Map<string, Transaction>();
  #closed = false;

  constructor(options: BindingTransactionsOptions) {
    this.#send = options.send;
    this.#rtoMs = options.rtoMs ?? 500;
    this.#maxSends = options.maxSends ?? 7;
    const lastSendAt = this.#rtoMs * (2 ** (this.#maxSends - 1) - 1);
    this.#deadlineMs = options.deadlineMs ?? lastSendAt + 16 * this.#rtoMs;
    if (
      !(this.#rtoMs > 0) ||
      !Number.isInteger(this.#maxSends) ||
      this.#maxSends < 1 ||
      !(this.#deadlineMs > 0)
    ) {
      throw new RangeError('BindingTransactions needs rtoMs > 0, maxSends ≥ 1 and deadlineMs > 0');
    }
  }

  /** Requests outstanding. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends a Binding request to `server` and settles with its answer; never rejects, but throws a
   * RangeError for attributes it cannot encode.
   */
  request(server: Endpoint, options: BindingRequestOptions = {}): Promise<BindingOutcome> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    const transactionId = randomBytes(TRANSACTION_ID_LENGTH);
    const packet = encodeStun(
      { method: BINDING, class: 'request', transactionId, attributes: options.attributes ?? [] },
      { integrityKey: options.integrityKey, fingerprint: true },
    );
    const key = transactionId.toString('hex');
    return new Promise((resolve) => {
      const transaction: Transaction = {
        packet,
        server,
        integrityKey: options.integrityKey,
        resolve: (outcome) => {
          clearTimeout(transaction.retransmit);
          clearTimeout(transaction.deadline);
          this.#pending.delete(key);
          resolve(outcome);
        },
        retransmit: undefined,
        deadline: setTimeout(() => transaction.resolve({ kind: 'timeout' }), this.#deadlineMs),
      };
      this.#pending.set(key, transaction);
      this.#transmit(transaction, 1, this.#rtoMs);
    });
  }

  /** The server-reflexive address `server` sees, or undefined when it gives none in time. */
  async mappedAddress(server: Endpoint): Promise<Endpoint | undefined> {
    const outcome = await this.request(server);
    return outcome.kind === 'success' ? outcome.mapped : undefined;
  }

  #transmit(transaction: Transaction, sends: number, wait: number): void {
    // Scheduled first: a transport that answers from inside send settles, and so clears, it.
    if (sends < this.#maxSends) {
      transaction.retransmit = setTimeout(() => this.#transmit(transaction, sends + 1, wait * 2), wait);
    }
    try {
      this.#send(transaction.packet, transaction.server.address, transaction.server.port);
    } catch {
      // As if lost on the way: the retransmit schedule covers it.
    }
  }

  /**
   * Offers a received STUN datagram; true when it answered an outstanding request (and so was
   * consumed), false for anything else.
   */
  receive(packet: Buffer, from: Endpoint): boolean {
    const decoded = decodeStun(packet);
    from = { address: from.address, port: from.port }; // not whatever else the transport's object holds
    if (!decoded.ok) return false;
    const message = decoded.message;
    if (message.method !== BINDING || (message.class !== 'success' && message.class !== 'error'))
      return false;
    const transaction = this.#pending.get(message.transactionId.toString('hex'));
    if (transaction === undefined) return false;
    if (transaction.integrityKey && !verifyIntegrity(message, transaction.integrityKey)) return false;
    if (message.class === 'error') {
      const error = readErrorCode(message);
      if (error === undefined) return false;
      transaction.resolve({ kind: 'error', ...error, from });
      return true;
    }
    const mapped = readXorMappedAddress(message) ?? readMappedAddress(message);
    if (mapped === undefined) return false;
    transaction.resolve({ kind: 'success', mapped, from });
    return true;
  }

  /** Settles every outstanding request as closed and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const transaction of [...this.#pending.values()]) transaction.resolve({ kind: 'closed' });
  }
}
