/**
 * QUIC data-plane throughput: one stream, sender and receiver in two processes on loopback, or
 * with `--lan` in two network namespaces on a 1500-MTU link (root; see ../lib/placement.ts).
 *
 *   npx tsx bench/quic-throughput/index.ts [--json] [--lan] [--size <MiB>] [--matrixai-size <MiB>]
 *                                          [--only mesh-agent,tcp,…] [--driver worker|inline] [--source]
 *   npx tsx bench/quic-throughput/index.ts --latency [--rounds <n>] [--gap <ms>] [--json] [--only …]
 *
 * `--latency`: round trips of a 32-byte message echoed by the other process (ping-pong on one
 * stream), p50/p99 in µs, for the mesh-agent driver on a worker thread and inline, next to plain
 * TCP and TLS (Nagle off). `--gap` waits between pings, as keystrokes do (default 0).
 *
 * Compares the mesh-agent driver (1350-byte and large datagrams) with @matrixai/quic's high-level
 * API, plain TCP and plain TLS. `--json` prints only an array of {case, tool, metric, value, unit}.
 * BENCH_THREAD_CPU=1 prints the CPU time of every thread of both peers, and how their datagrams
 * left (UDP path, datagrams per call).
 * Peers run as transpiled JavaScript, like the built agent; `--source` runs them through tsx instead
 * (which adds tsx's loader to every process and worker thread: ~70 MB of RSS each).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { UdpIoStats } from '../../packages/host/src/quic/index.js';
import { LAN_UDP_PAYLOAD, type Placement, placementFromArgs } from '../lib/placement.js';
import { ThreadCpu } from '../lib/proc.js';
import { type BenchRow, report } from '../lib/report.js';
import { buildPeer } from './build.js';
import { PING_BYTES, percentile } from './latency.js';
import type { PeerMessage, PeerSpec, Tool } from './peer.js';

const MIB = 1024 * 1024;
const LARGE_PAYLOAD = 16_000;
const PEER_SOURCE = fileURLToPath(new URL('./peer.ts', import.meta.url));
/** Extra node flags for the peers, e.g. BENCH_PEER_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const PEER_NODE_ARGS = (process.env.BENCH_PEER_ARGS ?? '').split(' ').filter(Boolean);
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** BENCH_THREAD_CPU=1: print the CPU time of every thread of both peers of each run to stderr. */
const THREAD_CPU = Boolean(process.env.BENCH_THREAD_CPU);

/** How to start a peer: compiled JavaScript (default, like the built agent) or the TS sources via tsx. */
interface Launcher {
  script: string;
  execArgv: string[];
  /** Loopback, or two namespaces on a 1500-MTU link with --lan. */
  placement: Placement;
}

interface Case {
  name: string;
  tool: Tool;
  bytes: number;
  maxUdpPayload?: number;
}

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = Number(get('--size') ?? 1024);
  const matrixaiSize = Number(get('--matrixai-size') ?? 32);
  if (!(size > 0) || !(matrixaiSize > 0))
    throw new Error('--size and --matrixai-size take a positive number of MiB');
  const driver = get('--driver');
  if (driver !== undefined && driver !== 'worker' && driver !== 'inline')
    throw new Error('--driver is worker or inline');
  return {
    json: argv.includes('--json'),
    bytes: Math.round(size * MIB),
    matrixaiBytes: Math.round(matrixaiSize * MIB),
    only: get('--only')?.split(','),
    driver: driver as 'worker' | 'inline' | undefined,
    source: argv.includes('--source'),
    latency: argv.includes('--latency'),
    rounds: Number(get('--rounds') ?? 2000),
    gapMs: Number(get('--gap') ?? 0),
  };
}

class Peer {
  private readonly messages: PeerMessage[] = [];
  private wake: (() => void) | null = null;
  readonly child;

  /** `spec` without its addresses: the launcher's placement gives them for this side. */
  constructor(launcher: Launcher, spec: Omit<PeerSpec, 'host' | 'peerHost'>) {
    const { placement } = launcher;
    const side = spec.role;
    const full: PeerSpec = {
      ...spec,
      host: placement.address(side),
      peerHost: placement.address('receiver'),
    };
    // Not fork(): on a LAN the peer starts under `ip netns exec`; the IPC channel survives the exec.
    this.child = spawn(
      ...placement.on(side, process.execPath, [...launcher.execArgv, launcher.script, JSON.stringify(full)]),
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    this.child.on('message', (msg: PeerMessage) => {
      this.messages.push(msg);
      this.wake?.();
    });
    this.child.on('exit', () => this.wake?.());
  }

  async next<T extends PeerMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<PeerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = this.messages.find((m) => m.type === 'failed');
      if (failed && failed.type === 'failed') throw new Error(`peer failed: ${failed.message}`);
      const index = this.messages.findIndex((m) => m.type === type);
      if (index >= 0) return this.messages.splice(index, 1)[0] as Extract<PeerMessage, { type: T }>;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error('peer process exited');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no '${type}' from peer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

async function runCase(
  launcher: Launcher,
  c: Case,
  driver: 'worker' | 'inline' | undefined,
): Promise<BenchRow[]> {
  const base = { tool: c.tool, bytes: c.bytes, maxUdpPayload: c.maxUdpPayload, driver };
  const receiver = new Peer(launcher, { ...base, role: 'receiver' });
  let sender: Peer | null = null;
  try {
    const ready = await receiver.next('ready', 30_000);
    const receiverCpu = THREAD_CPU ? new ThreadCpu(receiver.child.pid as number) : undefined;
    sender = new Peer(launcher, {
      ...base,
      role: 'sender',
      port: ready.port,
      fingerprint: ready.fingerprint,
    });
    const senderCpu = THREAD_CPU ? new ThreadCpu(sender.child.pid as number) : undefined;
    // Generous: the high-level API and a loaded machine can be slow.
    const result = await receiver.next('received', 30_000 + (c.bytes / MIB) * 1000);
    if (senderCpu && receiverCpu)
      process.stderr.write(
        `threads of the ${c.tool} ${c.name} sender:\n  ${senderCpu.stop().join('\n  ')}\n` +
          `threads of the receiver:\n  ${receiverCpu.stop().join('\n  ')}\n`,
      );
    if (result.bytes !== c.bytes) throw new Error(`received ${result.bytes} of ${c.bytes} bytes`);
    receiver.child.send({ type: 'report' });
    sender.child.send({ type: 'report' });
    const [rs, ss] = await Promise.all([receiver.next('sample', 10_000), sender.next('sample', 10_000)]);
    if (THREAD_CPU && ss.udp && rs.udp)
      process.stderr.write(
        `udp of the sender: ${describeUdp(ss.udp)}\nudp of the receiver: ${describeUdp(rs.udp)}\n`,
      );
    const row = (metric: string, value: number, unit: string): BenchRow => ({
      case: c.name,
      tool: c.tool,
      metric,
      value: Math.round(value * 10) / 10,
      unit,
    });
    // `rss` and `lag` are the worse of the two processes: the targets bound each of them.
    return [
      row('throughput', c.bytes / 1e6 / (result.ms / 1000), 'MB/s'),
      row('rss', Math.max(ss.rssPeakMb, rs.rssPeakMb), 'MB'),
      row('sender rss', ss.rssPeakMb, 'MB'),
      row('receiver rss', rs.rssPeakMb, 'MB'),
      row('lag', Math.max(ss.lagMaxMs, rs.lagMaxMs), 'ms'),
      row('sender lag', ss.lagMaxMs, 'ms'),
      row('receiver lag', rs.lagMaxMs, 'ms'),
    ];
  } finally {
    await Promise.all([receiver.stop(), sender?.stop()]);
  }
}

function describeUdp(udp: UdpIoStats): string {
  const perCall = udp.sendCalls > 0 ? (udp.batched / udp.sendCalls).toFixed(1) : '-';
  const why = udp.whyNotGso ? ` (${udp.whyNotGso})` : '';
  return `${udp.path}${why}, gro ${udp.gro}, ${udp.batched} datagrams in ${udp.sendCalls} calls (${perCall} each), ${udp.handedOff} one by one`;
}

interface LatencyCase {
  tool: Tool;
  /** `rtt`, or `rtt inline` for the driver on the main thread. */
  case: string;
  driver?: 'worker' | 'inline';
}

async function runLatency(
  launcher: Launcher,
  c: LatencyCase,
  rounds: number,
  gapMs: number,
): Promise<BenchRow[]> {
  const base = { tool: c.tool, bytes: 0, driver: c.driver, mode: 'latency' as const, rounds, gapMs };
  const responder = new Peer(launcher, { ...base, role: 'receiver' });
  let pinger: Peer | null = null;
  try {
    const ready = await responder.next('ready', 30_000);
    pinger = new Peer(launcher, {
      ...base,
      role: 'sender',
      port: ready.port,
      fingerprint: ready.fingerprint,
    });
    const { samples } = await pinger.next('latency', 60_000 + rounds * (gapMs + 20));
    const row = (metric: string, value: number): BenchRow => ({
      case: c.case,
      tool: c.tool,
      metric,
      value: Math.round(value),
      unit: 'µs',
    });
    return [row('p50', percentile(samples, 50)), row('p99', percentile(samples, 99))];
  } finally {
    await Promise.all([responder.stop(), pinger?.stop()]);
  }
}

async function mainLatency(args: ReturnType<typeof parseArgs>, launcher: Launcher): Promise<BenchRow[]> {
  const drivers = args.driver ? [args.driver] : (['worker', 'inline'] as const);
  const cases: LatencyCase[] = [
    ...drivers.map((driver) => ({
      tool: 'mesh-agent' as const,
      case: driver === 'inline' ? 'rtt inline' : 'rtt',
      driver,
    })),
    { tool: 'tcp', case: 'rtt' },
    { tool: 'tls', case: 'rtt' },
  ];
  const rows: BenchRow[] = [];
  for (const c of cases.filter((c) => !args.only || args.only.includes(c.tool))) {
    if (!args.json) console.error(`running ${c.tool} (${c.case}) ping-pong (${args.rounds} rounds)…`);
    try {
      rows.push(...(await runLatency(launcher, c, args.rounds, args.gapMs)));
    } catch (error) {
      console.error(`${c.tool} (${c.case}) failed: ${(error as Error).message}`);
    }
  }
  return rows;
}

/**
 * Plain TCP and TLS streams are the references of the large-datagram case on loopback; on a LAN,
 * where a datagram is at most 1452 bytes (any 1500-MTU path), of the 1350 case.
 */
function casesFor(args: ReturnType<typeof parseArgs>, lan: boolean): Case[] {
  const big = lan
    ? { name: '1452', maxUdpPayload: LAN_UDP_PAYLOAD }
    : { name: 'large', maxUdpPayload: LARGE_PAYLOAD };
  const reference = lan ? '1350' : 'large';
  const cases: Case[] = [
    { name: '1350', tool: 'mesh-agent', bytes: args.bytes, maxUdpPayload: 1350 },
    { ...big, tool: 'mesh-agent', bytes: args.bytes },
    { name: '1350', tool: 'matrixai-quic', bytes: args.matrixaiBytes },
    { name: reference, tool: 'tcp', bytes: args.bytes },
    { name: reference, tool: 'tls', bytes: args.bytes },
  ];
  return cases.filter((c) => !args.only || args.only.includes(c.tool));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const placement = await placementFromArgs(process.argv);
  if (!placement) return;
  const cases = casesFor(args, placement.lan);
  const build = args.source ? null : await buildPeer();
  const launcher: Launcher = build
    ? { script: build.peer, execArgv: [...PEER_NODE_ARGS], placement }
    : { script: PEER_SOURCE, execArgv: ['--import', TSX, ...PEER_NODE_ARGS], placement };
  const rows: BenchRow[] = [];
  if (args.latency) {
    try {
      rows.push(...(await mainLatency(args, launcher)));
    } finally {
      await build?.cleanup();
      await placement.close();
    }
    report(rows, {
      json: args.json,
      reference: 'tls',
      title: `Round trip of a ${PING_BYTES}-byte message between two processes ${placement.label} (${args.rounds} rounds, gap ${args.gapMs} ms)`,
    });
    return;
  }
  try {
    for (const c of cases) {
      if (!args.json) console.error(`running ${c.tool} ${c.name} (${c.bytes / MIB} MiB)…`);
      try {
        rows.push(...(await runCase(launcher, c, args.driver)));
      } catch (error) {
        console.error(`${c.tool} ${c.name} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    await build?.cleanup();
    await placement.close();
  }
  report(rows, {
    json: args.json,
    reference: 'tls',
    title: `QUIC data plane, one stream ${placement.label} (${args.bytes / MIB} MiB; matrixai-quic ${args.matrixaiBytes / MIB} MiB)`,
  });
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
