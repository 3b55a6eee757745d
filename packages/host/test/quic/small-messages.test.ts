import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type QuicConnection,
  type QuicEndpoint,
  type QuicStream,
  QuicStreamStoppedError,
} from '../../src/quic/index.js';
import { type EndpointPair, endpointPair } from './fixtures/endpoint-pair.js';

/** Sends `rounds` small messages one at a time, each after the previous one came back whole. */
async function pingPong(stream: QuicStream, rounds: number, size: number): Promise<void> {
  let received = 0;
  let wake: (() => void) | null = null;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    wake?.();
  });
  for (let i = 1; i <= rounds; i++) {
    stream.write(Buffer.alloc(size, i & 0xff));
    while (received < i * size) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }
}

/** Datagram payload of these endpoints: small, so that a burst spans thousands of datagrams. */
const PAYLOAD = 1350;
const OPTIONS = { driver: 'inline', maxUdpPayload: PAYLOAD, loopbackUdpPayload: PAYLOAD } as const;

describe('QuicEndpoint with small messages (inline drivers, one process)', () => {
  let pair: EndpointPair;
  let server: QuicEndpoint;
  let conn: QuicConnection;
  const nextIncoming = () => pair.nextIncoming();

  beforeAll(async () => {
    pair = await endpointPair(OPTIONS);
    ({ server, conn } = pair);
  });

  afterAll(() => pair.close());

  it('answers a request in the packet that acknowledges it: one datagram per echo, not two', async () => {
    const rounds = 300;
    const stream = conn.openStream();
    stream.write(Buffer.from('x'));
    const echo = await nextIncoming();
    echo.on('data', (chunk: Buffer) => echo.write(chunk));
    await new Promise((resolve) => stream.once('data', resolve));
    const before = await server.stats();
    await pingPong(stream, rounds, 32);
    const after = await server.stats();
    const sent = after.datagramsOut - before.datagramsOut;
    // Every echo carries the ACK of its request; an ACK-only packet first would make this ~2 × rounds.
    expect(sent).toBeGreaterThanOrEqual(rounds);
    expect(sent).toBeLessThan(rounds * 1.3);
    stream.end();
  });

  it('tells an idle writer that the peer stopped reading, without a write of its own', async () => {
    const writer = conn.openStream();
    writer.write(Buffer.alloc(100, 7));
    writer.resume();
    const reader = await nextIncoming();
    reader.resume();
    reader.end();
    await new Promise((resolve) => writer.once('end', resolve));
    const stopped = new Promise<Error>((resolve) => writer.once('error', resolve));
    reader.destroy();
    const error = await stopped;
    expect(error).toBeInstanceOf(QuicStreamStoppedError);
    expect(error.message).toMatch(/code 1/);
  });

  it('hands a streamed burst to the reader intact in chunks of many datagrams', async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const writer = conn.openStream();
    writer.end(payload);
    writer.resume();
    const reader = await nextIncoming();
    const chunks: Buffer[] = [];
    reader.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => reader.once('end', resolve));
    reader.end();
    const received = Buffer.concat(chunks);
    expect(received.equals(payload)).toBe(true);
    // Received bytes wait for more while the peer streams: far fewer hand-overs than datagrams.
    expect(received.length / chunks.length).toBeGreaterThan(16 * PAYLOAD);
  });
});
