import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { answerBinding } from '../../src/nat/binding-answer.js';
import { type BindingOutcome, BindingTransactions } from '../../src/nat/binding-transactions.js';
import type { Endpoint } from '../../src/nat/ip.js';
import { BINDING, type DecodedStunMessage, decodeStun, encodeStun, StunAttr } from '../../src/nat/stun.js';
import { errorCodeAttribute, readUsername, usernameAttribute } from '../../src/nat/stun-attributes.js';
import { verifyIntegrity } from '../../src/nat/stun-integrity.js';

const server: Endpoint = { address: '203.0.113.1', port: 3478 };
const otherServer: Endpoint = { address: '203.0.113.1', port: 3479 };
const reflexive: Endpoint = { address: '198.51.100.7', port: 40_000 };

interface Sent {
  packet: Buffer;
  to: Endpoint;
  at: number;
}

/** A transport that only records: the test plays the network and the server. */
function fakeTransport() {
  const sent: Sent[] = [];
  const send = (packet: Buffer, address: string, port: number) => {
    sent.push({ packet, to: { address, port }, at: Date.now() });
  };
  return { sent, send };
}

function parse(packet: Buffer): DecodedStunMessage {
  const result = decodeStun(packet);
  if (!result.ok) throw new Error(result.reason);
  return result.message;
}

/** What a server at `server` would answer to `request`, seeing the client at `reflexive`. */
function answer(request: Buffer, options: Parameters<typeof answerBinding>[2] = {}): Buffer {
  return answerBinding(parse(request), reflexive, options)!;
}

/** Settles `promise` into a holder the test can look at between timer advances. */
function track(promise: Promise<BindingOutcome>): { outcome?: BindingOutcome } {
  const holder: { outcome?: BindingOutcome } = {};
  void promise.then((outcome) => {
    holder.outcome = outcome;
  });
  return holder;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('BindingTransactions', () => {
  it('retransmits on the RFC 8489 schedule and gives up 16 RTOs after the last send', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send });
    const result = track(transactions.request(server));
    await vi.advanceTimersByTimeAsync(39_499);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 15_500, 31_500]);
    expect(result.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result.outcome).toEqual({ kind: 'timeout' });
    expect(transactions.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('retransmits the same Binding request, with a FINGERPRINT, to the server', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send, rtoMs: 100, maxSends: 3, deadlineMs: 1000 });
    void transactions.request(server);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.map((s) => s.at)).toEqual([0, 100, 300]);
    expect(sent.every((s) => s.packet.equals(sent[0]!.packet))).toBe(true);
    expect(sent.every((s) => s.to.address === server.address && s.to.port === server.port)).toBe(true);
    expect(parse(sent[0]!.packet)).toMatchObject({ method: BINDING, class: 'request', fingerprint: true });
  });

  it('stops at the deadline even with retransmits left', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send, rtoMs: 100, deadlineMs: 250 });
    const result = track(transactions.request(server));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent.map((s) => s.at)).toEqual([0, 100]);
    expect(result.outcome).toEqual({ kind: 'timeout' });
  });

  it('settles with the mapped address on an answer and stops retransmitting', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send, rtoMs: 100 });
    const result = track(transactions.request(server));
    await vi.advanceTimersByTimeAsync(350);
    const remoteInfo = { ...server, family: 'IPv4', size: 40 }; // what a dgram socket reports
    expect(transactions.receive(answer(sent[0]!.packet), remoteInfo)).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(result.outcome).toEqual({ kind: 'success', mapped: reflexive, from: server });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ignores unknown ids, repeats, late answers and anything that is not a Binding response', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send, rtoMs: 100, maxSends: 2, deadlineMs: 1000 });
    const result = track(transactions.request(server));
    const request = sent[0]!.packet;
    const stranger = encodeStun({ ...parse(request), transactionId: randomBytes(12) }, { fingerprint: true });

    expect(transactions.receive(answer(stranger), server)).toBe(false);
    expect(transactions.receive(request, server)).toBe(false); // our own request, looped back
    expect(transactions.receive(Buffer.from('garbage that is not STUN'), server)).toBe(false);
    const indication = encodeStun({ ...parse(request), class: 'indication' });
    expect(transactions.receive(indication, server)).toBe(false);
    const otherMethod = encodeStun({ ...parse(answer(request)), method: 0x003 });
    expect(transactions.receive(otherMethod, server)).toBe(false);
    const noAddress = encodeStun({ ...parse(answer(request)), attributes: [] });
    expect(transactions.receive(noAddress, server)).toBe(false);
    const noErrorCode = encodeStun({ ...parse(answer(request)), class: 'error', attributes: [] });
    expect(transactions.receive(noErrorCode, server)).toBe(false);
    expect(transactions.pending).toBe(1);

    expect(transactions.receive(answer(request), server)).toBe(true);
    expect(transactions.receive(answer(request), server)).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(result.outcome?.kind).toBe('success');

    const late = transactions.request(otherServer);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await late).toEqual({ kind: 'timeout' });
    expect(transactions.receive(answer(sent.at(-1)!.packet), otherServer)).toBe(false);
  });

  it('matches concurrent requests by transaction id, whatever the order of answers', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send });
    const first = transactions.request(server);
    const second = transactions.request(otherServer);
    const secondAnswer = answerBinding(parse(sent[1]!.packet), { address: '198.51.100.7', port: 40_001 })!;
    expect(transactions.receive(secondAnswer, otherServer)).toBe(true);
    expect(transactions.receive(answer(sent[0]!.packet), server)).toBe(true);
    expect(await first).toMatchObject({ mapped: reflexive, from: server });
    expect(await second).toMatchObject({ mapped: { port: 40_001 }, from: otherServer });
  });

  it('settles with the error of an error response', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send });
    const result = transactions.request(server);
    const request = parse(sent[0]!.packet);
    const error = encodeStun({
      ...request,
      class: 'error',
      attributes: [errorCodeAttribute({ code: 420, reason: 'Unknown Attribute' })],
    });
    expect(transactions.receive(error, server)).toBe(true);
    expect(await result).toEqual({ kind: 'error', code: 420, reason: 'Unknown Attribute', from: server });
  });

  it('signs authenticated probes and takes only answers signed with the same key', async () => {
    const key = randomBytes(32);
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send });
    const peer = { address: '192.0.2.9', port: 5000 };
    const result = track(
      transactions.request(peer, { attributes: [usernameAttribute('bob:alice')], integrityKey: key }),
    );
    const request = parse(sent[0]!.packet);
    expect(readUsername(request)).toBe('bob:alice');
    expect(verifyIntegrity(request, key)).toBe(true);

    expect(transactions.receive(answer(sent[0]!.packet), peer)).toBe(false);
    expect(transactions.receive(answer(sent[0]!.packet, { integrityKey: randomBytes(32) }), peer)).toBe(
      false,
    );
    expect(transactions.pending).toBe(1);
    expect(transactions.receive(answer(sent[0]!.packet, { integrityKey: key }), peer)).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(result.outcome).toEqual({ kind: 'success', mapped: reflexive, from: peer });
  });

  it('copes with a transport that answers from inside send', async () => {
    let sends = 0;
    const transactions: BindingTransactions = new BindingTransactions({
      send: (packet) => {
        sends++;
        transactions.receive(answer(packet), server);
      },
    });
    expect(await transactions.request(server)).toMatchObject({ kind: 'success' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sends).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('treats a throwing send as a lost packet', async () => {
    let calls = 0;
    const sent: Buffer[] = [];
    const transactions = new BindingTransactions({
      rtoMs: 100,
      send: (packet) => {
        calls++;
        if (calls === 1) throw new Error('EHOSTUNREACH');
        sent.push(packet);
      },
    });
    const result = transactions.request(server);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    transactions.receive(answer(sent[0]!), server);
    expect(await result).toMatchObject({ kind: 'success' });
  });

  it('close() settles everything outstanding and refuses new requests', async () => {
    const { send } = fakeTransport();
    const transactions = new BindingTransactions({ send });
    const outstanding = [transactions.request(server), transactions.request(otherServer)];
    transactions.close();
    expect(await Promise.all(outstanding)).toEqual([{ kind: 'closed' }, { kind: 'closed' }]);
    expect(await transactions.request(server)).toEqual({ kind: 'closed' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('mappedAddress() gives the mapped address, or undefined without one', async () => {
    const { sent, send } = fakeTransport();
    const transactions = new BindingTransactions({ send, rtoMs: 10, maxSends: 1, deadlineMs: 50 });
    const answered = transactions.mappedAddress(server);
    transactions.receive(answer(sent[0]!.packet), server);
    expect(await answered).toEqual(reflexive);
    const unanswered = transactions.mappedAddress(server);
    await vi.advanceTimersByTimeAsync(50);
    expect(await unanswered).toBeUndefined();
  });

  it.each([{ rtoMs: 0 }, { maxSends: 0 }, { maxSends: 1.5 }, { deadlineMs: -1 }, { rtoMs: Number.NaN }])(
    'refuses options %o',
    (options) => {
      expect(() => new BindingTransactions({ send: () => {}, ...options })).toThrow(RangeError);
    },
  );

  it('does not hand out integrity attributes as request attributes', () => {
    const transactions = new BindingTransactions({ send: () => {} });
    expect(() =>
      transactions.request(server, { attributes: [{ type: StunAttr.Fingerprint, value: Buffer.alloc(4) }] }),
    ).toThrow(/options/);
  });
});
