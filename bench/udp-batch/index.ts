/**
 * Batched UDP I/O against node:dgram: 1 GiB of 1350-byte datagrams over loopback between two
 * processes, with the sender's and the receiver's CPU time per GiB.
 *
 *   npx tsx bench/udp-batch/index.ts [--json] [--size <MiB>] [--datagram <bytes>] [--runs <n>] [--only gso+gro,…]
 *
 * Tools: `node:dgram` at both ends; `sendmmsg+recvmmsg`; `gso+recvmmsg`; `gso+gro`. Runs are
 * interleaved and each figure is the median (`--runs`, default 3). The sender keeps at most 1 MiB
 * unacknowledged (see peer.ts); `stalls` counts windows that timed out, i.e. loss.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchRow, report } from '../lib/report.js';
import { interleaved, median, runsArg } from '../lib/rounds.js';
import type { PeerMessage, PeerSpec, ReceiveWith, SendWith } from './peer.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const PEER = fileURLToPath(new URL('./peer.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Tool {
  name: string;
  send: SendWith;
  receive: ReceiveWith;
}

const TOOLS: Tool[] = [
  { name: 'node:dgram', send: 'dgram', receive: 'dgram' },
  { name: 'sendmmsg+recvmmsg', send: 'sendmmsg', receive: 'recvmmsg' },
  { name: 'gso+recvmmsg', send: 'gso', receive: 'recvmmsg' },
  { name: 'gso+gro', send: 'gso', receive: 'gro' },
];

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = Number(get('--size') ?? 1024);
  const datagram = Number(get('--datagram') ?? 1350);
  if (!(size > 0) || !(datagram > 1 && datagram <= 65_507))
    throw new Error('--size takes MiB, --datagram 2..65507 bytes');
  return {
    json: argv.includes('--json'),
    bytes: Math.round(size * MIB),
    datagram,
    only: get('--only')?.split(','),
    runs: runsArg(argv),
  };
}

function startPeer(spec: PeerSpec) {
  const child = fork(PEER, [JSON.stringify(spec)], {
    execArgv: ['--import', TSX],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = <T extends PeerMessage['type']>(type: T, timeoutMs: number) =>
    new Promise<Extract<PeerMessage, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${spec.role}: no '${type}' in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onMessage = (m: PeerMessage) => {
        if (m.type === 'failed') reject(new Error(`${spec.role} failed: ${m.message}`));
        if (m.type !== type && m.type !== 'failed') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m as Extract<PeerMessage, { type: T }>);
      };
      child.on('message', onMessage);
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return { next, stop };
}

interface Sample {
  throughput: number;
  senderCpu: number;
  receiverCpu: number;
  loss: number;
  stalls: number;
}

async function runOnce(tool: Tool, bytes: number, datagram: number): Promise<Sample> {
  const receiver = startPeer({ role: 'receiver', with: tool.receive, bytes, datagram });
  let sender: ReturnType<typeof startPeer> | null = null;
  try {
    const receiverPath = receiver.next('path', 30_000);
    const { port } = await receiver.next('ready', 30_000);
    const rp = await receiverPath;
    if (rp.path !== tool.receive)
      throw new Error(`receiver path ${rp.path}, not ${tool.receive}: ${rp.reason}`);
    sender = startPeer({ role: 'sender', with: tool.send, bytes, datagram, port });
    const sp = await sender.next('path', 30_000);
    if (sp.path !== tool.send) throw new Error(`sender path ${sp.path}, not ${tool.send}: ${sp.reason}`);
    const timeout = 60_000 + (bytes / MIB) * 200;
    const [sent, received] = await Promise.all([
      sender.next('done', timeout),
      receiver.next('done', timeout),
    ]);
    const perGib = GIB / received.bytes;
    return {
      throughput: received.bytes / 1e6 / received.seconds,
      senderCpu: sent.cpuSeconds * perGib,
      receiverCpu: received.cpuSeconds * perGib,
      loss: (100 * (sent.bytes - received.bytes)) / sent.bytes,
      stalls: sent.stalls ?? 0,
    };
  } finally {
    await Promise.all([receiver.stop(), sender?.stop()]);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tools = TOOLS.filter((t) => !args.only || args.only.includes(t.name));
  const label = `${args.datagram}`;
  const results = await interleaved(tools, args.runs, async (tool) => {
    if (!args.json)
      console.error(`running ${tool.name} (${args.bytes / MIB} MiB of ${args.datagram}-byte datagrams)…`);
    return runOnce(tool, args.bytes, args.datagram);
  });
  const rows: BenchRow[] = [];
  for (const [tool, samples] of results) {
    const row = (metric: string, pick: (s: Sample) => number, unit: string): BenchRow => ({
      case: label,
      tool: tool.name,
      metric,
      value: Math.round(median(samples.map(pick)) * 100) / 100,
      unit,
    });
    rows.push(
      row('throughput', (s) => s.throughput, 'MB/s'),
      row('sender cpu', (s) => s.senderCpu, 's/GiB'),
      row('receiver cpu', (s) => s.receiverCpu, 's/GiB'),
      row('total cpu', (s) => s.senderCpu + s.receiverCpu, 's/GiB'),
      row('loss', (s) => s.loss, '%'),
      row('stalls', (s) => s.stalls, 'windows'),
    );
  }
  report(rows, {
    json: args.json,
    reference: 'node:dgram',
    title: `${args.bytes / MIB} MiB of ${args.datagram}-byte datagrams over loopback, medians of ${args.runs} interleaved runs`,
  });
}

await main();
