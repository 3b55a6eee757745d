import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDirs } from '../helpers/cli.js';
import { createLab, type Lab, natLabAvailable } from './lab.js';
import { LabMesh } from './lab-mesh.js';

/**
 * Agents behind real kernel NATs (network namespaces, iptables MASQUERADE, routers that drop
 * unsolicited inbound), a signaling server on the "internet" between them, and real files moved
 * with `send-file --to`, BLAKE3-verified. Each case states the path it expects and why.
 */
const lab = natLabAvailable();
if (!lab.ok) console.warn(`NAT lab tests skipped: ${lab.reason}`);
const run = lab.ok || process.env.NAT_LAB_REQUIRED === '1';

describe.skipIf(!run)('reaching agents behind NAT (real kernel NAT, real processes)', () => {
  const dirs = new TempDirs();
  let net: Lab;
  let mesh: LabMesh;

  async function moved(from: string, to: string, mib = 4) {
    const file = await mesh.file(`${from}-to-${to}.bin`, mib);
    return mesh.verified(await mesh.send(from, to, file), to, file);
  }

  beforeAll(async () => {
    net = await createLab({
      sites: {
        home: { nat: 'eim', hosts: ['alice', 'alice2'] },
        office: { nat: 'eim', hosts: ['bob'] },
        mobile: { nat: 'edm', hosts: ['carol'] },
        carrier: { nat: 'edm', hosts: ['dave'] },
        hotel: { nat: 'eim', blockUdp: true, hosts: ['erin'] },
        cafe: { nat: 'eim', hosts: ['frank'] },
      },
    });
    mesh = new LabMesh(net, dirs);
    await mesh.startServer();
    await Promise.all(['bob', 'alice2', 'dave', 'erin', 'frank'].map((name) => mesh.daemon(name)));
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await net?.teardown();
    await dirs.cleanup();
  });

  it('both NATs endpoint-independent: the punch succeeds, the file goes direct', async () => {
    expect((await moved('alice', 'bob')).path).toBe('direct');
  }, 120_000);

  it('two agents behind the same NAT: direct on their LAN addresses', async () => {
    expect((await moved('alice', 'alice2')).path).toBe('direct');
    expect(mesh.daemonOf('alice2').stderr).toContain(`"remote":{"address":"${net.address('alice')}"`);
  }, 120_000);

  it('both NATs endpoint-dependent: no pair can meet, so the relay carries it, end to end encrypted', async () => {
    expect((await moved('carol', 'dave')).path).toBe('relay');
  }, 120_000);

  it('UDP blocked by one router: the relay over WebSocket carries it', async () => {
    expect((await moved('alice', 'erin')).path).toBe('relay');
  }, 120_000);

  it('starts on the relay while UDP between the sites is blocked, and moves to a direct path when it opens', async () => {
    // A firewall between the two sites only (STUN to the server still works): probes fail, the relay carries.
    const rule = ['FORWARD', '-o', 'wan', '-d', net.publicAddress('frank'), '-p', 'udp', '-j', 'DROP'];
    const block = await net.exec('home', net.iptables, ['-I', ...rule]);
    expect(block.code, block.stderr).toBe(0);
    const file = await mesh.file('upgrade.bin', 192);
    const sending = mesh.send('alice', 'frank', file);
    await expectEventually(() => mesh.daemonOf('frank').stderr.includes('"path":"relay"'), 20_000);
    expect((await net.exec('home', net.iptables, ['-D', ...rule])).code).toBe(0);
    const report = await mesh.verified(await sending, 'frank', file);
    expect(report.path).toBe('direct');
    expect(mesh.daemonOf('frank').stderr).toMatch(/"path":"direct"[^\n]*peer path changed/);
  }, 180_000);

  it('status and peers --json show the NAT kind each agent found', async () => {
    const status = JSON.parse((await mesh.cli('dave', ['status', '--json'])).stdout) as {
      nat: { kind: string };
    };
    expect(status.nat.kind).toBe('endpoint-dependent');
    const peers = await mesh.cli('bob', ['peers', '--server', mesh.serverUrl, '--json']);
    const members = (JSON.parse(peers.stdout) as { members: Array<{ agent_id: string; nat?: string }> })
      .members;
    expect(members.find((m) => m.agent_id === 'bob')?.nat).toBe('endpoint-independent');
    expect(members.find((m) => m.agent_id === 'erin')?.nat).toBe('udp-blocked');
  }, 60_000);
});

async function expectEventually(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
