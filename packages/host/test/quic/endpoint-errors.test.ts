import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/identity/identity.js';
import {
  InvalidQuicOptionsError,
  QuicConnectError,
  QuicEndpoint,
  QuicEndpointClosedError,
  QuicStreamResetError,
  QuicStreamStoppedError,
} from '../../src/quic/index.js';
import { endpointPair } from './fixtures/endpoint-pair.js';

describe('QuicEndpoint errors', () => {
  it('rejects listening on a UDP port that is taken', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    try {
      const attempt = QuicEndpoint.listen({
        host: '127.0.0.1',
        port: taken.address().port,
        identity: await generateIdentity(),
        options: { driver: 'inline' },
      });
      await expect(attempt).rejects.toThrow(/EADDRINUSE/);
    } finally {
      taken.close();
    }
  });

  it('rejects bad options and a listen host that is not an IP address', async () => {
    const identity = await generateIdentity();
    await expect(QuicEndpoint.listen({ identity, options: { maxUdpPayload: 70_000 } })).rejects.toThrow(
      InvalidQuicOptionsError,
    );
    await expect(
      QuicEndpoint.listen({ host: 'example.invalid', identity, options: { driver: 'inline' } }),
    ).rejects.toThrow(/must be an IP address/);
  });

  it('fails a dial to a silent port after the handshake timeout, and refuses work once closed', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const endpoint = await QuicEndpoint.listen({
      host: '127.0.0.1',
      identity: await generateIdentity(),
      options: { handshakeTimeoutMs: 300 },
    });
    try {
      const started = Date.now();
      await expect(
        endpoint.connect({
          host: '127.0.0.1',
          port: silent.address().port,
          expectedFingerprint: 'ab'.repeat(32),
        }),
      ).rejects.toThrow(QuicConnectError);
      expect(Date.now() - started).toBeLessThan(3000);
      await expect(
        endpoint.connect({ host: '127.0.0.1', port: 0, expectedFingerprint: 'ab'.repeat(32) }),
      ).rejects.toThrow(/invalid port/);
    } finally {
      silent.close();
      await endpoint.close();
    }
    await expect(
      endpoint.connect({ host: '127.0.0.1', port: 9, expectedFingerprint: 'ab'.repeat(32) }),
    ).rejects.toBeInstanceOf(QuicEndpointClosedError);
  });
});

describe('QuicStream aborts', () => {
  it('turns destroy() into a reset / stop that the peer sees as a clear error', async () => {
    const pair = await endpointPair({ driver: 'inline' });
    const { conn, nextIncoming } = pair;
    try {
      // The writer aborts: the reader gets RESET_STREAM as an error naming the stream and code.
      const stream = conn.openStream();
      stream.write(Buffer.alloc(10_000, 1));
      const remote = await nextIncoming();
      const resetError = new Promise<Error>((resolve) => remote.once('error', resolve));
      remote.resume();
      stream.on('error', () => {});
      stream.destroy(new Error('user cancelled'));
      const error = await resetError;
      expect(error).toBeInstanceOf(QuicStreamResetError);
      expect(error.message).toMatch(/stream 0 was reset by the peer \(code 1\)/);

      // The reader (its own side already ended) aborts: the writer gets STOP_SENDING on its next writes.
      const writer = conn.openStream();
      writer.write(Buffer.alloc(1000, 2));
      writer.resume();
      const reader = await nextIncoming();
      reader.end();
      await new Promise((resolve) => writer.once('end', resolve));
      reader.destroy();
      const stopError = await new Promise<Error>((resolve) => {
        writer.once('error', resolve);
        const timer = setInterval(() => {
          if (writer.destroyed) clearInterval(timer);
          else writer.write(Buffer.alloc(64 * 1024, 3));
        }, 10);
      });
      expect(stopError).toBeInstanceOf(QuicStreamStoppedError);
      expect(conn.closed).toBe(false);
    } finally {
      await pair.close();
    }
  });
});
