import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The file plugin's check of what arrived: BLAKE3 by a second implementation.
import { blake3Of } from '../../../../plugins/file-transfer/test/helpers/fixtures.js';
import { agentEnv, CliProcess, runCli, TempDirs } from '../helpers/cli.js';
import { createLab, type Lab, natLabAvailable } from './lab.js';

/**
 * Agents behind real kernel NATs (network namespaces, iptables MASQUERADE, routers that drop
 * unsolicited inbound), a signaling server on the "internet" between them, and real files moved
 * with `send-file --to`, BLAKE3-verified. Each case states the path it expects and why.
 */
const lab = natLabAvailable();
if (!lab.ok) console.warn(`NAT lab tests skipped: ${lab.reason}`);
const required = process.env.NAT_LAB_REQUIRED === '1';

describe.skipIf(!lab.ok && !required)('reaching agents behind NAT (real kernel NAT, real processes)', () => {
  const dirs = new TempDirs();
  let net: Lab;
  let server: CliProcess;
  let serverUrl: string;
  const daemons: CliProcess[] = [];
  const homes = new Map<string, string>();

  const ns = (node: string) => ['ip', 'netns', 'exec', net.ns(node)];
  const envOf = (name: string) => agentEnv(homes.get(name)!, { MESH_AGENT_ID: name });

  async function daemon(name: string): Promise<void> {
    homes.set(name, await dirs.make(`nat-${name}-`));
    const proc = new CliProcess(
      ['run', '--server', serverUrl, '--json', '--log-level', 'info'],
      envOf(name),
      ns(name),
    );
    daemons.push(proc);
    await proc.waitForJson('listen', 30_000);
  }

  async function send(from: string, to: string, mib = 4) {
    homes.set(from, homes.get(from) ?? (await dirs.make(`nat-${from}-`)));
    const file = join(await dirs.make('nat-file-'), `${from}-to-${to}.bin`);
    await writeFile(file, randomBytes(mib * 1024 * 1024));
    const result = await runCli(
      ['send-file', file, '--to', to, '--server', serverUrl, '--json'],
      envOf(from),
      {
        launcher: ns(from),
        timeoutMs: 90_000,
      },
    );
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const report = JSON.parse(result.stdout) as {
      path: string;
      rttMs: number;
      files: Array<{ savedAs: string }>;
    };
    const received = join(homes.get(to)!, 'downloads', report.files[0]!.savedAs);
    expect(await blake3Of(received)).toBe(await blake3Of(file));
    return report;
  }

  beforeAll(async () => {
    net = await createLab({
      sites: {
        home: { nat: 'eim', hosts: ['alice', 'alice2'] },
        office: { nat: 'eim', hosts: ['bob'] },
        mobile: { nat: 'edm', hosts: ['carol'] },
        carrier: { nat: 'edm', hosts: ['dave'] },
        hotel: { nat: 'eim', blockUdp: true, hosts: ['erin'] },
      },
    });
    const serverHome = await dirs.make('nat-server-');
    server = new CliProcess(
      [
        'server',
        '--open',
        '--allow-open-network',
        '--host',
        net.serverAddress,
        '--port',
        '7300',
        '--data-dir',
        serverHome,
        '--json',
      ],
      agentEnv(serverHome),
      ns('pub'),
    );
    serverUrl = (await server.waitForJson<{ url: string }>('url', 30_000)).url;
    await Promise.all(['bob', 'alice2', 'dave', 'erin'].map(daemon));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...daemons.map((d) => d.stop()), server?.stop()]);
    await net?.teardown();
    await dirs.cleanup();
  });

  it('both NATs endpoint-independent: the punch succeeds, the file goes direct', async () => {
    const report = await send('alice', 'bob');
    expect(report.path).toBe('direct');
  }, 120_000);

  it('two agents behind the same NAT: direct on their LAN addresses', async () => {
    const report = await send('alice', 'alice2');
    expect(report.path).toBe('direct');
    expect(daemons[1]!.stderr).toContain(`"remote":{"address":"${net.address('alice')}"`);
  }, 120_000);

  it('both NATs endpoint-dependent: no pair can meet, so the relay carries it, end to end encrypted', async () => {
    const report = await send('carol', 'dave');
    expect(report.path).toBe('relay');
  }, 120_000);

  it('UDP blocked by one router: the relay over WebSocket carries it', async () => {
    const report = await send('alice', 'erin');
    expect(report.path).toBe('relay');
  }, 120_000);

  it('status and peers --json show the NAT kind each agent found', async () => {
    const status = JSON.parse(
      (await runCli(['status', '--json'], envOf('dave'), { launcher: ns('dave') })).stdout,
    ) as {
      nat: { kind: string };
    };
    expect(status.nat.kind).toBe('endpoint-dependent');
    const peers = await runCli(['peers', '--server', serverUrl, '--json'], envOf('bob'), {
      launcher: ns('bob'),
    });
    const members = (JSON.parse(peers.stdout) as { members: Array<{ agent_id: string; nat?: string }> })
      .members;
    expect(members.find((m) => m.agent_id === 'bob')?.nat).toBe('endpoint-independent');
    expect(members.find((m) => m.agent_id === 'erin')?.nat).toBe('udp-blocked');
  }, 60_000);
});
