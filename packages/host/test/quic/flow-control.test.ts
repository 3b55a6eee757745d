import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QuicConnection, QuicStream } from '../../src/quic/index.js';
import { type EndpointPair, endpointPair } from './fixtures/endpoint-pair.js';

const MIB = 1024 * 1024;
/** A connection window a few streams' worth of unread bytes would use up. */
const WINDOWS = { initialMaxData: 2 * MIB, maxConnectionWindow: 2 * MIB, driver: 'inline' } as const;

/** Resolves with everything the stream carries until the peer's end. */
function readAll(stream: QuicStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

describe('connection flow control after aborted streams', () => {
  let pair: EndpointPair;
  let conn: QuicConnection;
  const nextIncoming = () => pair.nextIncoming();

  beforeEach(async () => {
    pair = await endpointPair(WINDOWS);
    conn = pair.conn;
  });

  afterEach(() => pair.close());

  /** A small stream the server echoes back must still go through. */
  async function expectEcho(): Promise<void> {
    const echo = conn.openStream();
    const reply = readAll(echo);
    echo.end(Buffer.alloc(64 * 1024, 9));
    const remote = await nextIncoming();
    remote.pipe(remote);
    expect((await reply).length).toBe(64 * 1024);
  }

  it('a reader that gives up on a stream with bytes still unread leaves the connection usable', async () => {
    // Each round the reader reads nothing and destroys its stream with up to a window of bytes
    // still buffered. Those bytes count against the connection's window until they are consumed;
    // quiche 0.18 drops them on shutdown without counting them consumed, so two rounds used to
    // stall every stream on the connection for good.
    for (let round = 0; round < 6; round++) {
      const stream = conn.openStream();
      stream.on('error', () => {});
      stream.write(Buffer.alloc(3 * MIB, round));
      const remote = await nextIncoming();
      await new Promise((resolve) => setTimeout(resolve, 150));
      remote.destroy();
    }
    await expectEcho();
  }, 20_000);

  it('a writer that destroys a stream it has ended leaves the connection usable', async () => {
    // A reset after FIN would make the peer's quiche drop what its reader had not read yet and, in
    // quiche 0.18, keep that much of the connection's window for good. Without the reset, the
    // reader gives up on the stream itself (STOP_SENDING tells it) and the driver consumes the rest.
    for (let round = 0; round < 6; round++) {
      const stream = conn.openStream();
      stream.end(Buffer.alloc(3 * MIB, round));
      await new Promise((resolve) => stream.once('finish', resolve));
      const remote = await nextIncoming();
      remote.on('error', () => {});
      await new Promise((resolve) => setTimeout(resolve, 150));
      stream.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      remote.destroy();
    }
    await expectEcho();
  }, 20_000);
});
