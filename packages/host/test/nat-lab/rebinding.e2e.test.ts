import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDirs } from '../helpers/cli.js';
import { createLab, type Lab, natLabAvailable } from './lab.js';
import { LabMesh } from './lab-mesh.js';

/**
 * NAT rebinding in the middle of a transfer: an agent behind an endpoint-independent NAT and a
 * peer with a public address, on a punched direct path; the NAT router then forgets its UDP
 * mappings and maps the next packets to new ports. The NAT'd agent's packets arrive at the peer
 * from an address the session never saw, and the router drops packets to the old one: the peer
 * must follow the agent to its new address, and the file must arrive whole, with no failure.
 *
 * Both agents behind NATs that filter by address and port (as these routers do) have no in-band
 * repair: the rebound side's packets from its new port are dropped by the other router, and
 * neither side learns the new address without fresh candidates through the signaling server. The
 * relay carries the session then: rebinding-relay.e2e.test.ts.
 */
const lab = natLabAvailable();
if (!lab.ok) console.warn(`NAT lab tests skipped: ${lab.reason}`);
const run = lab.ok || process.env.NAT_LAB_REQUIRED === '1';

const MIB = 1024 * 1024;
const SIZE_MIB = 48;

describe.skipIf(!run)('a NAT rebinding mid-transfer (real kernel NAT, real processes)', () => {
  const dirs = new TempDirs();
  let net: Lab;
  let mesh: LabMesh;

  beforeAll(async () => {
    net = await createLab({
      sites: {
        home: { nat: 'eim', hosts: ['alice', 'ann'] },
        dc: { nat: 'none', openInbound: true, hosts: ['bob', 'dan'] },
      },
    });
    mesh = new LabMesh(net, dirs);
    await mesh.startServer();
    await Promise.all([mesh.daemon('bob'), mesh.daemon('ann')]);
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await net?.teardown();
    await dirs.cleanup();
  });

  /** `from` sends a file to `to`; a fifth of the way through, home's router rebinds to `ports`. */
  async function sendThroughRebinding(from: string, to: string, ports: string) {
    const file = await mesh.file(`${from}-to-${to}.bin`, SIZE_MIB);
    const { sending } = await mesh.sendPast(SIZE_MIB * MIB * 0.2, from, to, file, ['--log-level', 'info']);
    await net.rebind('home', ports);
    const result = await sending;
    return { report: await mesh.verified(result, to, file), senderLog: result.stderr };
  }

  it("the sender's NAT rebinds: the receiver follows it to its new port", async () => {
    const { report } = await sendThroughRebinding('alice', 'bob', '20000-20999');
    expect(report).toMatchObject({ path: 'direct', files: [{ resumedFrom: 0 }] });
    expect(mesh.daemonOf('bob').stderr).toMatch(movedTo(net.publicAddress('home'), /20\d{3}/));
  }, 180_000);

  it("the receiver's NAT rebinds: the sender follows it to its new port", async () => {
    const { report, senderLog } = await sendThroughRebinding('dan', 'ann', '30000-30999');
    expect(report).toMatchObject({ path: 'direct', files: [{ resumedFrom: 0 }] });
    expect(senderLog).toMatch(movedTo(net.publicAddress('home'), /30\d{3}/));
  }, 180_000);
});

/**
 * The session following the peer to `address` with a port matching `port`: "peer moved" (its
 * packets came from there first), or, when the rebound side had nothing to send until its first
 * probe and this side's silence check ran out first (seen once in a loaded full run), "direct path
 * back" there right after the relay took over (the trickled address).
 */
function movedTo(address: string, port: RegExp): RegExp {
  return new RegExp(
    `"to":\\{"address":"${address.replaceAll('.', '\\.')}","port":${port.source}\\}[^\\n]*(peer moved|direct path back)`,
  );
}
