import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partBytes } from '../../../../plugins/file-transfer/test/helpers/fixtures.js';
import { REFRESH_MS } from '../../src/p2p/reachability.js';
import { DEFAULT_PUNCH_TIMING } from '../../src/quic/paths/punch-session.js';
import { eventually, TempDirs } from '../helpers/cli.js';
import { createLab, type Lab, natLabAvailable } from './lab.js';
import { LabMesh } from './lab-mesh.js';

/**
 * Trickled candidates. Both agents sit behind NATs that filter by address and port; one NAT
 * rebinds mid-transfer (every flow forgets its mapping and gets a new public port, one for all
 * destinations: an endpoint-independent router that restarted). The direct path is dead both
 * ways, the relay carries the session (rebinding-relay.e2e.test.ts), and then each side asks STUN
 * for its address again and sends it to the peer over the relay, signed with the session's probe
 * key; the peer punches toward the new port while the rebound side punches toward the peer, both
 * routers open, and the session goes back to the direct path in the same transfer.
 *
 * The same when the receiver's NAT rebinds before the session, after the receiver registered its
 * address: the sender punches toward the stale address, the session starts on the relay, and as
 * the relay takes over each side trickles its address as STUN sees it now; the fresh one is
 * punched, and the session moves to the direct path early in the transfer.
 */
const lab = natLabAvailable();
if (!lab.ok) console.warn(`NAT lab tests skipped: ${lab.reason}`);
const run = lab.ok || process.env.NAT_LAB_REQUIRED === '1';

const MIB = 1024 * 1024;
/** Large enough that the transfer is still running when the direct path comes back (~2–3 s). */
const SIZE_MIB = 256;
/** A single port: after the rebinding every flow maps to it, as on an endpoint-independent NAT. */
const REBOUND_PORTS = '20000-20000';
/**
 * A session that starts on the relay goes direct ~1 s in (the grace, then the trickle at once),
 * ~5 s when a trickle is lost (the next goes at the end of the punch window): the relay alone
 * moved 256 MiB in about 5 s in the lab, so this transfer is larger.
 */
const START_SIZE_MIB = 512;
const BACK_BOUND_MS = 15_000;

const count = (text: string, what: string) => text.split('\n').filter((l) => l.includes(what)).length;
/** The time (epoch ms) of the first JSON log record in `text` whose line matches `pattern`. */
function timeOf(text: string, pattern: RegExp): number | undefined {
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? (JSON.parse(line) as { time: number }).time : undefined;
}
const RELAY_READY = /"path":"relay"[^\n]*peer path ready/;
const DIRECT_READY = /"path":"direct"[^\n]*peer path ready/;
/** A session that started on the relay moving to a direct path (no direct path was lost: not "back"). */
const WENT_DIRECT = /"path":"direct"[^\n]*peer path changed/;

describe.skipIf(!run)('trickled candidates bring a rebound session back to direct (real kernel NAT)', () => {
  const dirs = new TempDirs();
  let net: Lab | undefined;
  let mesh: LabMesh | undefined;

  /** A fresh lab per test: a router rebinds once, and its single-port mapping would hinder the next test. */
  beforeEach(async () => {
    net = await createLab({
      sites: {
        home: { nat: 'eim', hosts: ['alice'] },
        office: { nat: 'eim', hosts: ['bob'] },
      },
    });
    mesh = new LabMesh(net, dirs);
    await mesh.startServer();
    await mesh.daemon('bob');
  }, 120_000);

  afterEach(async () => {
    await mesh?.stop();
    await net?.teardown();
  });

  afterAll(async () => {
    await dirs.cleanup();
  });

  /** alice sends bob a file; a tenth of the way through, `site`'s router rebinds. */
  async function sendAndRebind(name: string, site: string) {
    if (!net || !mesh) throw new Error('no lab');
    const file = await mesh.file(name, SIZE_MIB);
    const bob = mesh.daemonOf('bob');
    const backBefore = count(bob.stderr, 'direct path back');
    const lostBefore = count(bob.stderr, 'direct path lost');
    const extra = ['--log-level', 'info'];
    const { sending } = await mesh.sendPast(SIZE_MIB * MIB * 0.1, 'alice', 'bob', file, extra);
    expect(bob.stderr).toMatch(/"path":"direct"[^\n]*peer path ready/);
    let ended = false;
    void sending.finally(() => {
      ended = true;
    });
    await net.rebind(site, REBOUND_PORTS);
    const rebound = Date.now();
    await eventually(async () => ended || count(bob.stderr, 'direct path lost') > lostBefore, 30_000, 20);
    const lostMs = Date.now() - rebound;
    await eventually(async () => ended || count(bob.stderr, 'direct path back') > backBefore, 30_000, 20);
    const backMs = Date.now() - rebound;
    const downloads = join(await mesh.home('bob'), 'downloads');
    const atBack = await partBytes(downloads).catch(() => 0);
    const result = await sending;
    if (process.env.TRICKLE_DEBUG) {
      const paths = (text: string) =>
        text.split('\n').filter((l) => /direct path|peer moved|peer path/.test(l));
      console.info(
        `${site}\nbob:\n${paths(bob.stderr).join('\n')}\nalice:\n${paths(result.stderr).join('\n')}`,
      );
    }
    const report = await mesh.verified(result, 'bob', file);
    expect(result.code).toBe(0);
    expect(report.files[0]?.resumedFrom).toBe(0);
    // Lost, on the relay, then back on the direct path: on both sides, during the transfer.
    expect(count(bob.stderr, 'direct path lost')).toBeGreaterThan(lostBefore);
    expect(count(bob.stderr, 'direct path back')).toBeGreaterThan(backBefore);
    expect(result.stderr).toMatch(/direct path lost, on the relay[\s\S]*direct path back/);
    expect(report.path).toBe('direct');
    expect(atBack).toBeLessThan(SIZE_MIB * MIB);
    expect(backMs).toBeLessThan(BACK_BOUND_MS);
    console.info(
      `trickle (${site} rebinds): relay ${lostMs} ms after the rebinding, direct again ${backMs} ms after it`,
    );
  }

  it("the receiver's NAT rebinds: relay, then direct again on its new port, the file whole", async () => {
    await sendAndRebind('receiver-rebinds.bin', 'office');
  }, 180_000);

  it("the sender's NAT rebinds: relay, then direct again on its new port, the file whole", async () => {
    await sendAndRebind('sender-rebinds.bin', 'home');
  }, 180_000);

  it("the receiver's NAT rebinds before the session: it starts on the relay, and goes direct to the trickled address", async () => {
    if (!net || !mesh) throw new Error('no lab');
    const file = await mesh.file('rebound-before.bin', START_SIZE_MIB);
    const bob = mesh.daemonOf('bob');
    // bob asks STUN again every REFRESH_MS from its welcome and re-registers an address that
    // changed: the rebinding comes just after one such point, so that the session is brokered
    // with the address bob registered before it (stale), as when the NAT rebinds between two.
    await eventually(async () => bob.stderr.includes('nat discovered'), 30_000, 20);
    const discovered = timeOf(bob.stderr, /nat discovered/)!;
    const phase = (Date.now() - discovered) % REFRESH_MS;
    if (phase < 500 || phase > REFRESH_MS / 3) await sleep(REFRESH_MS - phase + 500);
    await net.rebind('office', REBOUND_PORTS);
    const started = Date.now();
    const sending = mesh.send('alice', 'bob', file, ['--log-level', 'info']);
    let ended = false;
    void sending.finally(() => {
      ended = true;
    });
    await eventually(async () => ended || RELAY_READY.test(bob.stderr), 30_000, 20);
    await eventually(async () => ended || WENT_DIRECT.test(bob.stderr), 30_000, 20);
    const downloads = join(await mesh.home('bob'), 'downloads');
    const atDirect = await partBytes(downloads).catch(() => 0);
    const result = await sending;
    if (process.env.TRICKLE_DEBUG) {
      const paths = (text: string) =>
        text.split('\n').filter((l) => /direct path|peer moved|peer path|nat discovered/.test(l));
      console.info(`bob:\n${paths(bob.stderr).join('\n')}\nalice:\n${paths(result.stderr).join('\n')}`);
    }
    const report = await mesh.verified(result, 'bob', file);
    expect(result.code).toBe(0);
    // The stale address was no way in: both sides started on the relay…
    expect(bob.stderr).toMatch(RELAY_READY);
    expect(bob.stderr).not.toMatch(DIRECT_READY);
    expect(result.stderr).toMatch(RELAY_READY);
    // …and went direct in the same transfer, before its end.
    expect(bob.stderr).toMatch(WENT_DIRECT);
    expect(result.stderr).toMatch(WENT_DIRECT);
    expect(report.path).toBe('direct');
    expect(atDirect).toBeLessThan(START_SIZE_MIB * MIB);
    // From the session's start (the relay carries it after the punch's 1 s grace) to direct.
    const relayAt = timeOf(bob.stderr, RELAY_READY)!;
    const directAt = timeOf(bob.stderr, WENT_DIRECT)!;
    const aliceRelayAt = timeOf(result.stderr, RELAY_READY)!;
    const aliceDirectAt = timeOf(result.stderr, WENT_DIRECT)!;
    expect(directAt - started).toBeLessThan(BACK_BOUND_MS);
    console.info(
      `trickle at start: session start to direct ~${directAt - relayAt + DEFAULT_PUNCH_TIMING.directGraceMs} ms; ` +
        `send started, bob on the relay +${relayAt - started} ms, bob direct +${directAt - started} ms ` +
        `(${directAt - relayAt} ms after its relay); alice relay +${aliceRelayAt - started} ms, direct +${aliceDirectAt - started} ms; ` +
        `${(atDirect / MIB).toFixed(0)} MiB of ${START_SIZE_MIB} in at direct`,
    );
  }, 180_000);
});
