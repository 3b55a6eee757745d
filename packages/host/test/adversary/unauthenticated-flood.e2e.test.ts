import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/identity/identity.js';
import { type QuicConnection, QuicEndpoint } from '../../src/quic/index.js';
import { TempDirs } from '../helpers/cli.js';
import { type Agent, makeAgent, startDaemon } from '../helpers/mesh.js';

const MIB = 1024 * 1024;
const CONNECTIONS = 120;
/** What the daemon's RSS may grow by under the whole flood. */
const RSS_GROWTH_BOUND = 40 * MIB;

const rssOf = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line?.[1]) * 1024;
};

/**
 * A handshake frame that announces about 1 MiB and sends all of it but the last byte: a daemon
 * without a handshake cap holds the whole partial frame until the handshake times out.
 */
function partialHello(conn: QuicConnection): void {
  const stream = conn.openStream();
  stream.on('error', () => {});
  const frame = Buffer.alloc(MIB, 0x20);
  frame.writeUInt32BE(MIB - 4, 0);
  frame.writeUInt16BE(0xffff, 4);
  stream.write(frame.subarray(0, MIB - 1));
}

describe('a daemon under 120 unauthenticated QUIC connections from one address', () => {
  const dirs = new TempDirs();
  let daemon: Agent;
  let attacker: QuicEndpoint;

  beforeAll(async () => {
    daemon = await startDaemon(await makeAgent(dirs), []);
    attacker = await QuicEndpoint.listen({
      host: '127.0.0.1',
      identity: await generateIdentity(),
      options: { handshakeTimeoutMs: 3_000, driver: 'inline' },
    });
  }, 30_000);
  afterAll(async () => {
    await attacker?.close();
    await daemon?.proc?.stop();
    await dirs.cleanup();
  });

  it(`keeps its RSS within ${RSS_GROWTH_BOUND / MIB} MiB of where it started`, async () => {
    const pid = daemon.proc!.child.pid!;
    const before = rssOf(pid);
    const dials = await Promise.allSettled(
      Array.from({ length: CONNECTIONS }, () =>
        attacker.connect({ host: '127.0.0.1', port: daemon.port!, expectedFingerprint: daemon.fingerprint }),
      ),
    );
    const connected = dials.flatMap((d) => (d.status === 'fulfilled' ? [d.value] : []));
    for (const conn of connected) partialHello(conn);
    let peak = before;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      peak = Math.max(peak, rssOf(pid));
    }
    console.log(
      `RSS ${Math.round(before / MIB)} → peak ${Math.round(peak / MIB)} MiB; ${connected.length} of ${CONNECTIONS} connections accepted`,
    );
    expect(peak - before).toBeLessThan(RSS_GROWTH_BOUND);
    expect(daemon.proc!.child.exitCode).toBeNull();
  }, 60_000);
});
