import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partBytes } from '../../../../plugins/file-transfer/test/helpers/fixtures.js';
import { type CliResult, eventually, TempDirs } from '../helpers/cli.js';
import { createLab, type Lab, natLabAvailable } from './lab.js';
import { LabMesh } from './lab-mesh.js';

/**
 * NAT rebinding mid-transfer with BOTH agents behind NATs that filter by address and port: the
 * rebound side's packets from its new port are dropped by the other router, and the other side's
 * packets to the old port by its own, so the direct path is dead both ways and no in-band repair
 * can find it again (trickled candidates over the relay can bring it back afterwards:
 * trickle.e2e.test.ts). Each side must notice the
 * silence, confirm it with unanswered signed probes and move the session to the relay, long
 * before QUIC's idle timeout (30 s) would end it: the file arrives whole.
 */
const lab = natLabAvailable();
if (!lab.ok) console.warn(`NAT lab tests skipped: ${lab.reason}`);
const run = lab.ok || process.env.NAT_LAB_REQUIRED === '1';

const MIB = 1024 * 1024;
const SIZE_MIB = 48;
/** Well under QUIC's 30 s idle timeout; the fallback itself takes about 2 s. */
const FALLBACK_BOUND_MS = 12_000;

describe.skipIf(!run)('a NAT rebinding when both NATs filter (real kernel NAT, real processes)', () => {
  const dirs = new TempDirs();
  let net: Lab;
  let mesh: LabMesh;

  beforeAll(async () => {
    net = await createLab({
      sites: {
        home: { nat: 'eim', hosts: ['alice'] },
        office: { nat: 'eim', hosts: ['bob'] },
      },
    });
    mesh = new LabMesh(net, dirs);
    // The server relays too (no --no-relay).
    await mesh.startServer();
    await mesh.daemon('bob');
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await net?.teardown();
    await dirs.cleanup();
  });

  /** alice sends bob a file; `rebind`, when given, runs a fifth of the way through. */
  async function send(name: string, rebind?: () => Promise<void>) {
    const file = await mesh.file(name, SIZE_MIB);
    const started = Date.now();
    const extra = ['--log-level', 'info'];
    let sending: Promise<CliResult>;
    let resumedMs: number | undefined;
    if (!rebind) sending = mesh.send('alice', 'bob', file, extra);
    else {
      ({ sending } = await mesh.sendPast(SIZE_MIB * MIB * 0.2, 'alice', 'bob', file, extra));
      // Punched, not relayed, up to here: the rebinding kills a direct path.
      expect(mesh.daemonOf('bob').stderr).toMatch(/"path":"direct"[^\n]*peer path ready/);
      expect(mesh.daemonOf('bob').stderr).not.toMatch(/"path":"relay"/);
      let ended = false;
      void sending.finally(() => {
        ended = true;
      });
      const downloads = join(await mesh.home('bob'), 'downloads');
      await rebind();
      const rebound = Date.now();
      const before = await partBytes(downloads);
      // Data flows again (a margin past what was in flight at the rebinding).
      await eventually(async () => ended || (await partBytes(downloads)) > before + 2 * MIB, 60_000, 20);
      resumedMs = Date.now() - rebound;
    }
    const result = await sending;
    const report = await mesh.verified(result, 'bob', file);
    return { report, result, resumedMs, totalMs: Date.now() - started };
  }

  it("the sender's NAT rebinds: both sides find the direct path dead and the relay carries the rest", async () => {
    const baseline = await send('baseline.bin');
    expect(baseline.report.path).toBe('direct');

    const { report, result, resumedMs, totalMs } = await send('rebound.bin', () =>
      net.rebind('home', '20000-20999'),
    );
    expect(result.code).toBe(0);
    expect(report.files[0]?.resumedFrom).toBe(0);
    // Each side notices on its own: the sender in its own log, the receiver in its daemon's.
    const lost = new RegExp(`"from":\\{"address":"${net.publicAddress('office').replaceAll('.', '\\.')}"`);
    expect(result.stderr).toMatch(/direct path lost, on the relay/);
    expect(result.stderr.split('\n').find((l) => l.includes('direct path lost'))).toMatch(lost);
    expect(mesh.daemonOf('bob').stderr).toMatch(/direct path lost, on the relay/);
    expect(resumedMs).toBeLessThan(FALLBACK_BOUND_MS);
    console.info(
      `rebinding: data flowed again ${resumedMs} ms after it; ${SIZE_MIB} MiB in ${totalMs} ms (without: ${baseline.totalMs} ms)`,
    );
  }, 180_000);
});
