import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab, natLabAvailable } from './lab.js';
import {
  type JsonLines,
  type Line,
  type Reflector,
  startReflector,
  startUdpProbe,
  tcpProbe,
} from './probes.js';

const avail = natLabAvailable();
if (!avail.ok) console.warn(`NAT lab tests skipped: ${avail.reason}`);

// Where the lab must run (CI), NAT_LAB_REQUIRED=1 turns "skipped" into a failure.
if (!avail.ok && process.env.NAT_LAB_REQUIRED === '1')
  describe('NAT lab (required)', () => {
    it('is available', () => {
      expect.fail(avail.ok ? '' : avail.reason);
    });
  });

const STUN = [3478, 3479];
/** A reflector port that no probe ever sends to. */
const STRANGER = 3480;
/** A reflector port that pokes a mapping before the host's first packet (hole-punch order). */
const EARLY = 3481;
const TCP = 3478;

function ipLinkNames(): string[] {
  const out = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim())
    .sort();
}

function netnsNames(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]!);
}

const mappings = (probe: JsonLines) => probe.all.filter((l) => l.type === 'mapping');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!avail.ok)('NAT lab', () => {
  let lab: Lab;
  let reflector: Reflector;
  let rootLinks: string[];
  const probes = new Map<string, JsonLines>();

  beforeAll(async () => {
    const t0 = performance.now();
    if (avail.ok) console.info(`NAT lab uses ${avail.iptables}: ${avail.version}`);
    rootLinks = ipLinkNames();
    lab = await createLab({
      sites: {
        home: { nat: 'eim', hosts: ['alice', 'bob'] },
        carrier: { nat: 'edm', hosts: ['carol'] },
        office: { nat: 'eim', blockUdp: true, hosts: ['dave'] },
        dc: { nat: 'none', hosts: ['erin'] },
      },
    });
    // One lingering probe per host that has UDP; they retry until the reflector is up, so all start at once.
    for (const host of ['alice', 'carol', 'erin'])
      probes.set(
        host,
        startUdpProbe(lab, host, lab.serverAddress, STUN, { linger: true, timeoutMs: 10_000 }),
      );
    reflector = await startReflector(lab, 'pub', { udp: [...STUN, STRANGER, EARLY], tcp: [TCP] });
    await Promise.all([...probes.values()].map((p) => p.waitFor((l) => l.type === 'mapped')));
    console.info(`lab, reflector and probes up in ${Math.round(performance.now() - t0)} ms`);
  });

  afterAll(async () => {
    await lab?.teardown();
  });

  it('eim: one socket gets the same public ip:port towards both ports, on the router WAN, port kept', () => {
    const probe = probes.get('alice')!;
    const [a, b] = mappings(probe);
    expect(a!.ip).toBe(lab.publicAddress('home'));
    expect({ ip: b!.ip, port: b!.port }).toEqual({ ip: a!.ip, port: a!.port });
    expect(a!.port).toBe(probe.find((l) => l.type === 'mapped')!.local);
  });

  it('edm: one socket gets a different public port per destination port', () => {
    const [a, b] = mappings(probes.get('carol')!);
    expect(a!.ip).toBe(lab.publicAddress('carol'));
    expect(b!.ip).toBe(a!.ip);
    expect(b!.port).not.toBe(a!.port);
  });

  it('none: the host is seen with its own routable address', () => {
    const [a, b] = mappings(probes.get('erin')!);
    expect(a!.ip).toBe(lab.address('erin'));
    expect(b).toMatchObject({ ip: a!.ip, port: a!.port });
  });

  // Filtering is address-and-port dependent everywhere: only a reflector port the host sent to gets through,
  // to the mapping that the host's packet to that very port created.
  it.each(['alice', 'carol', 'erin'])(
    '%s: unsolicited inbound is dropped, replies from a contacted port pass',
    async (host) => {
      const probe = probes.get(host)!;
      const viaContacted = mappings(probe).find((m) => m.via === STUN[1])!;
      const target = { ip: viaContacted.ip as string, port: viaContacted.port as number };
      await reflector.send(STRANGER, target.ip, target.port, `stranger-${host}`);
      await reflector.send(STUN[0]!, target.ip, target.port, `other-port-${host}`);
      await reflector.send(STUN[1]!, target.ip, target.port, `contacted-${host}`);
      await probe.waitFor((l) => l.type === 'recv' && l.data === `contacted-${host}`, 2000);
      await sleep(200);
      const received = probe.all.filter((l) => l.type === 'recv').map((l) => l.data);
      expect(received).not.toContain(`stranger-${host}`);
      // eim and none: STUN[0] was contacted from the same socket and maps to the same ip:port; edm: not.
      if (host === 'carol') expect(received).not.toContain(`other-port-${host}`);
      else expect(received).toContain(`other-port-${host}`);
    },
  );

  it('eim: a packet arriving before the host sends is dropped and does not change the mapping', async () => {
    await reflector.send(EARLY, lab.publicAddress('home'), 6000, 'early');
    await sleep(50);
    const probe = startUdpProbe(lab, 'bob', lab.serverAddress, [EARLY], { bindPort: 6000, linger: true });
    expect(await probe.waitFor((l) => l.type === 'mapping')).toMatchObject({ port: 6000 });
    await reflector.send(EARLY, lab.publicAddress('home'), 6000, 'after');
    await probe.waitFor((l) => l.type === 'recv' && l.data === 'after', 2000);
    expect(probe.all.some((l) => l.data === 'early')).toBe(false);
  });

  it('blockUdp: UDP gets no answer, TCP to pub works', async () => {
    const udp = startUdpProbe(lab, 'dave', lab.serverAddress, STUN, { timeoutMs: 800 });
    const [line, tcp] = await Promise.all([
      udp.waitFor((l) => l.type === 'timeout' || l.type === 'mapped'),
      tcpProbe(lab, 'dave', lab.serverAddress, TCP),
    ]);
    expect(line.type).toBe('timeout');
    expect(tcp).toMatchObject({ type: 'tcp', ip: lab.publicAddress('dave') });
  });

  it('two hosts on one LAN reach each other directly on their LAN addresses', async () => {
    const bobReflector = await startReflector(lab, 'bob', { udp: [4000], tcp: [4000] });
    const udp = startUdpProbe(lab, 'alice', lab.address('bob'), [4000]);
    const [mapping, tcp] = await Promise.all([
      udp.waitFor((l) => l.type === 'mapping'),
      tcpProbe(lab, 'alice', lab.address('bob'), 4000),
    ]);
    expect(mapping.ip).toBe(lab.address('alice'));
    expect(tcp).toMatchObject({ type: 'tcp', ip: lab.address('alice') });
    expect(bobReflector.lines.find((l) => l.type === 'udp')).toMatchObject({ ip: lab.address('alice') });
  });

  it('pub has no route to the private LANs, only to the routable one', async () => {
    for (const host of ['alice', 'carol', 'dave']) {
      const r = await lab.exec('pub', 'ip', ['route', 'get', lab.address(host)]);
      expect(r.code, `${host}: ${r.stdout}`).not.toBe(0);
    }
    const r = await lab.exec('pub', 'ip', ['route', 'get', lab.address('erin')]);
    expect(r.stdout).toContain(`via ${lab.publicAddress('erin')}`);
  });

  it('a second lab with the same names runs alongside, isolated', async () => {
    const other = await createLab({ sites: { home: { nat: 'eim', hosts: ['alice'] } } });
    try {
      expect(other.prefix).not.toBe(lab.prefix);
      // The probe retries until the reflector answers, so both start at once.
      const probe = startUdpProbe(other, 'alice', other.serverAddress, [STUN[0]!], { bindPort: 5555 });
      const otherReflector = await startReflector(other, 'pub', { udp: [STUN[0]!] });
      const mapping: Line = await probe.waitFor((l) => l.type === 'mapping');
      expect(mapping).toMatchObject({ ip: other.publicAddress('home'), port: 5555 });
      expect(otherReflector.lines.all.some((l) => l.type === 'udp' && l.port === 5555)).toBe(true);
      expect(reflector.lines.all.some((l) => l.type === 'udp' && l.port === 5555)).toBe(false);
    } finally {
      await other.teardown();
    }
  });

  it('rebind: a UDP flow loses its mapping, and its next packet gets a new port from the range', async () => {
    const other = await createLab({ sites: { home: { nat: 'eim', hosts: ['alice'] } } });
    try {
      const otherReflector = await startReflector(other, 'pub', { udp: [STUN[0]!] });
      const before = startUdpProbe(other, 'alice', other.serverAddress, [STUN[0]!], {
        bindPort: 5556,
        linger: true,
      });
      expect(await before.waitFor((l) => l.type === 'mapping')).toMatchObject({ port: 5556 });
      await other.rebind('home', '20000-20099');
      await otherReflector.send(STUN[0]!, other.publicAddress('home'), 5556, 'to-the-old-mapping');
      before.child.kill('SIGKILL');
      await new Promise((resolve) => before.child.once('exit', resolve));
      const after = startUdpProbe(other, 'alice', other.serverAddress, [STUN[0]!], { bindPort: 5556 });
      const mapping = await after.waitFor((l) => l.type === 'mapping');
      expect(mapping.port).toBeGreaterThanOrEqual(20000);
      expect(mapping.port).toBeLessThanOrEqual(20099);
      expect(before.all.some((l) => l.data === 'to-the-old-mapping')).toBe(false);
    } finally {
      await other.teardown();
    }
  });

  it('teardown kills the processes and leaves no namespaces (and the root namespace as it was)', async () => {
    expect(netnsNames().filter((n) => n.startsWith(`${lab.prefix}-`))).toHaveLength(lab.nodes.length);
    await lab.teardown();
    expect(reflector.lines.child.exitCode !== null || reflector.lines.child.signalCode !== null).toBe(true);
    expect(netnsNames().filter((n) => n.startsWith(`${lab.prefix}-`))).toEqual([]);
    expect(ipLinkNames()).toEqual(rootLinks);
  });
});
