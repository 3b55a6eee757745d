/**
 * Agents behind real kernel NATs (packages/host/test/nat-lab): how long a connection takes to set up and
 * how fast a file goes over a direct, a hole-punched and a relayed path, and what relaying costs the server.
 *
 *   pnpm bench nat [--json] [--size <MiB>] [--runs <n>] [--sends <n>] [--relay-rate <MiB/s>]
 *   (default 256 MiB, 3 runs of each large transfer, 15 tiny sends per set-up case; all interleaved)
 *
 * Set-up: `send-file --to` of a 1 KiB file from a fresh sender process, from the sender's debug logs:
 * `connect` runs from "signaling connected" to "peer connected", split into `stun` (NAT discovery),
 * `path` (session grant, then the punch or the relay bind) and `handshake` (QUIC and the peer's
 * authentication); `wall` from spawn to the verified transfer. Paths:
 *   direct   two `nat: 'none'` sites open to inbound: nothing to traverse
 *   punched  eim ↔ eim: each side's probes open its own NAT
 *   relay    edm ↔ edm (never meet) and udp-blocked → eim: the relay carries it over WebSocket
 * p99 is nearest-rank: of 15 sends, the slowest.
 * Throughput: the sender's figure for the file (connection excluded), eim ↔ eim punched vs edm ↔ edm
 * relayed, and the two open sites as the no-NAT reference; each received file's BLAKE3 checked.
 * The relay is the signal server's built-in one, capped at 64 MiB/s per session, both directions
 * together (DEFAULT_RELAY_LIMITS), with no server flag to change that; --relay-rate runs
 * `mesh-agent relay --session-rate` beside the server instead, and its process is the one measured.
 *
 * Needs root, iproute2 and iptables; without them it says why and exits 0 with no rows. `pnpm build` first.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LabSpec, natLabAvailable } from '../../packages/host/test/nat-lab/lab.js';
import { blake3, randomFile } from '../lib/files.js';
import { type BenchRow, report } from '../lib/report.js';
import { interleaved, median, percentile, runsArg } from '../lib/rounds.js';
import { MeshLab } from './mesh-lab.js';
import { type PathCase, PHASES, type SetupSample, setupOnce } from './setup.js';
import { type ThroughputSample, throughputOnce } from './throughput.js';

const MIB = 1024 * 1024;
const TOOL = 'mesh-agent';

const SITES: LabSpec['sites'] = {
  home: { nat: 'eim', hosts: ['alice'] },
  office: { nat: 'eim', hosts: ['bob'] },
  mobile: { nat: 'edm', hosts: ['carol'] },
  carrier: { nat: 'edm', hosts: ['dave'] },
  dc1: { nat: 'none', openInbound: true, hosts: ['erin'] },
  dc2: { nat: 'none', openInbound: true, hosts: ['frank'] },
  hotel: { nat: 'eim', blockUdp: true, hosts: ['grace'] },
};
const RECEIVERS = ['bob', 'dave', 'frank'];

const SETUP_CASES: PathCase[] = [
  { name: 'setup direct', from: 'erin', to: 'frank', path: 'direct' },
  { name: 'setup punched', from: 'alice', to: 'bob', path: 'direct' },
  { name: 'setup relay', from: 'carol', to: 'dave', path: 'relay' },
  { name: 'setup relay udp-blocked', from: 'grace', to: 'bob', path: 'relay' },
];
const THROUGHPUT_CASES: PathCase[] = [
  { name: 'throughput direct', from: 'alice', to: 'bob', path: 'direct' },
  { name: 'throughput relay', from: 'carol', to: 'dave', path: 'relay' },
  // The same path with no NAT on it: what the two routers' conntrack and MASQUERADE cost the punched one.
  { name: 'throughput direct no-nat', from: 'erin', to: 'frank', path: 'direct' },
];

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const mib = Number(get('--size') ?? 256);
  const sends = Number(get('--sends') ?? 15);
  const relayRate = get('--relay-rate');
  if (!(mib > 0)) throw new Error('--size takes a positive number of MiB');
  if (!Number.isInteger(sends) || sends < 1) throw new Error('--sends takes a positive integer');
  if (relayRate !== undefined && !(Number(relayRate) > 0)) throw new Error('--relay-rate takes MiB/s > 0');
  return {
    json: argv.includes('--json'),
    mib,
    runs: runsArg(argv),
    sends,
    relayRate: relayRate === undefined ? undefined : Math.round(Number(relayRate) * MIB),
  };
}

function setupRows(results: Map<PathCase, SetupSample[]>): BenchRow[] {
  return [...results].flatMap(([c, samples]) => {
    const sorted = (pick: (s: SetupSample) => number) => samples.map(pick).sort((a, b) => a - b);
    const connect = sorted((s) => s.connectMs);
    const wall = sorted((s) => s.wallMs);
    const row = (metric: string, value: number): BenchRow => ({
      case: c.name,
      tool: TOOL,
      metric,
      value,
      unit: 'ms',
    });
    return [
      row('connect p50', percentile(connect, 50)),
      row('connect p99', percentile(connect, 99)),
      ...PHASES.map((p) => row(`${p.name} p50`, median(samples.map((s) => s.phasesMs[p.name])))),
      row('wall p50', percentile(wall, 50)),
      row('wall p99', percentile(wall, 99)),
      row('rtt p50', median(samples.map((s) => s.rttMs))),
    ];
  });
}

function throughputRows(results: Map<PathCase, ThroughputSample[]>, bytes: number): BenchRow[] {
  const rows: BenchRow[] = [];
  const row = (name: string, metric: string, value: number, unit: string) =>
    rows.push({ case: name, tool: TOOL, metric, value, unit });
  const speed = new Map(
    [...results].map(([c, samples]) => [c.name, median(samples.map((s) => s.mbPerSecond))]),
  );
  for (const [name, value] of speed) row(name, 'throughput', value, 'MB/s');
  const direct = speed.get('throughput direct');
  const relayed = speed.get('throughput relay');
  if (direct && relayed) row('throughput relay', 'vs direct', relayed / direct, 'x');
  const costs = [...results.values()].flat().flatMap((s) => (s.relay ? [s.relay] : []));
  if (costs.length > 0) {
    row('relay cpu', 'per GB relayed', median(costs.map((c) => c.cpuSeconds / (bytes / 1e9))), 's');
    row('relay rss', 'before', costs[0]?.rssBefore ?? 0, 'MB');
    row('relay rss', 'peak', Math.max(...costs.map((c) => c.rssPeak)), 'MB');
    row('relay rss', 'after', costs.at(-1)?.rssAfter ?? 0, 'MB');
  }
  return rows;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const available = natLabAvailable();
  if (!available.ok) {
    process.stderr.write(
      `bench nat skipped: the NAT lab needs root, iproute2 and iptables (${available.reason})\n`,
    );
    if (args.json) process.stdout.write('[]\n');
    return;
  }
  const say = (line: string) => {
    if (!args.json) process.stderr.write(`${line}\n`);
  };
  const dir = await mkdtemp(join(tmpdir(), 'bench-nat-'));
  let mesh: MeshLab | undefined;
  try {
    const bytes = Math.round(args.mib * MIB);
    const tiny = join(dir, 'tiny.bin');
    await writeFile(tiny, Buffer.alloc(1024, 0x6d));
    const source = { path: join(dir, 'large.bin'), bytes, hash: '' };
    await randomFile(source.path, bytes);
    source.hash = await blake3(source.path);
    mesh = await MeshLab.start({ sites: SITES, daemons: RECEIVERS, dir, relayRate: args.relayRate });
    const lab = mesh;

    // One untimed round: the receivers' first session (relay socket, caches) is not what set-up costs.
    say('set-up: warm-up round …');
    for (const c of SETUP_CASES) await setupOnce(lab, c, tiny);
    say(`set-up: ${args.sends} sends of 1 KiB per path …`);
    const setup = await interleaved(SETUP_CASES, args.sends, (c) => setupOnce(lab, c, tiny));
    const throughput = await interleaved(THROUGHPUT_CASES, args.runs, async (c) => {
      say(`${c.name}: ${args.mib} MiB ${c.from} → ${c.to} …`);
      const sample = await throughputOnce(lab, c, source, dir);
      say(`  ${sample.mbPerSecond.toFixed(1)} MB/s`);
      return sample;
    });

    const relay = args.relayRate
      ? `a separate relay at ${args.relayRate / MIB} MiB/s per session`
      : 'the signal server’s built-in relay (64 MiB/s per session)';
    report([...setupRows(setup), ...throughputRows(throughput, bytes)], {
      json: args.json,
      title: `NAT lab: set-up over ${args.sends} sends of 1 KiB, ${args.mib} MiB × ${args.runs} runs; ${relay}`,
    });
  } finally {
    await mesh?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
