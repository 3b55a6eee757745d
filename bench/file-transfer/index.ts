/**
 * File transfer over loopback: mesh-agent (`run` receiver + `send-file` sender in direct mode,
 * 1350-byte and large datagrams) next to scp and nc, in one run, each received file's BLAKE3 checked.
 * With `--lan`, between two network namespaces on a 1500-MTU link instead (root; see
 * lib/placement.ts): 1350- and 1452-byte datagrams (1452 fits any 1500-MTU path, IPv6 too).
 *
 *   npx tsx bench/file-transfer/index.ts [--json] [--lan] [--size <MiB>] [--runs <n>] [--only mesh-agent,'mesh-agent large',scp,nc] [--chunk-kib <n>]
 *   (default 1024 MiB, 3 runs of every tool, interleaved; throughput is the median run)
 *
 * Build first: npx tsc -b plugins/file-transfer/tsconfig.json. Needs openssh-server,
 * openssh-client and netcat-openbsd (apt-get install -y openssh-server openssh-client netcat-openbsd).
 * Throughput is end to end: the file size over the sender's wall time (process start, connection,
 * verification included). RSS is the peak of sender and receiver.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeTimedRun } from '../lib/before-run.js';
import { blake3, randomFile } from '../lib/files.js';
import { type Placement, placementFromArgs } from '../lib/placement.js';
import { type BenchRow, report } from '../lib/report.js';
import { interleaved, median, runsArg } from '../lib/rounds.js';
import { type Measurement, meshAgent, nc, scp } from './tools.js';

const MIB = 1024 * 1024;
/** The largest datagram the QUIC options accept is 16383; 16000 leaves room like bench/quic-throughput. */
const LARGE_PAYLOAD = 16_000;
/** A 1500-byte MTU less IPv6 and UDP headers: a datagram any 1500-MTU path carries unfragmented. */
const LAN_PAYLOAD = 1452;

type Case = { tool: string; case: string; run: (work: string) => Promise<Measurement> };

/**
 * The case names the datagram size; scp and nc (TCP) are the references of the `large` case on
 * loopback and of the `1350` case (the default toward other machines) on a LAN.
 */
function casesFor(placement: Placement, source: string, plugin: { chunkSize?: number }): Case[] {
  const mesh = (payload: number): Case => ({
    tool: 'mesh-agent',
    case: payload === LARGE_PAYLOAD ? 'large' : String(payload),
    run: (work) => meshAgent(placement, source, work, payload, plugin),
  });
  const reference = placement.lan ? '1350' : 'large';
  return [
    mesh(1350),
    mesh(placement.lan ? LAN_PAYLOAD : LARGE_PAYLOAD),
    { tool: 'scp', case: reference, run: (work) => scp(placement, source, work) },
    { tool: 'nc', case: reference, run: (work) => nc(placement, source, work) },
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const sizeAt = argv.indexOf('--size');
  const mib = sizeAt >= 0 ? Number(argv[sizeAt + 1]) : 1024;
  if (!(mib > 0)) throw new Error('--size must be a positive number of MiB');
  const bytes = Math.round(mib * MIB);
  // For comparing chunk sizes (plugins.file-transfer.chunkSize); default: the plugin's default.
  const chunkAt = argv.indexOf('--chunk-kib');
  const plugin = chunkAt >= 0 ? { chunkSize: Number(argv[chunkAt + 1]) * 1024 } : {};
  const placement = await placementFromArgs(argv);
  if (!placement) return;
  const dir = await mkdtemp(join(tmpdir(), 'bench-file-transfer-'));
  const say = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  try {
    const source = join(dir, 'source.bin');
    await randomFile(source, bytes);
    const expected = await blake3(source);
    // `--only` takes `mesh-agent` (both cases), `mesh-agent <case>`, `scp`, `nc`.
    const cases = casesFor(placement, source, plugin);
    const onlyAt = argv.indexOf('--only');
    const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',') : undefined;
    const selected = cases.filter(
      (c) => !only || only.includes(c.tool) || only.includes(`${c.tool} ${c.case}`),
    );
    const results = await interleaved(selected, runsArg(argv), async (c) => {
      say(`${c.tool} (${c.case}): ${mib} MiB …`);
      await beforeTimedRun(dir, bytes);
      // A fresh directory per run: agent homes, ssh keys and the received file.
      const work = await mkdtemp(join(dir, 'run-'));
      const m = await c.run(work);
      const got = await blake3(m.output);
      if (got !== expected)
        throw new Error(`${c.tool}: received file hashes to ${got}, expected ${expected}`);
      await rm(work, { recursive: true, force: true });
      return m;
    });
    const rows: BenchRow[] = [];
    for (const [c, runs] of results) {
      const row = (metric: string, value: number, unit: string): BenchRow => ({
        case: c.case,
        tool: c.tool,
        metric,
        value,
        unit,
      });
      const senderRss = Math.max(...runs.map((m) => m.senderRss));
      const receiverRss = Math.max(...runs.map((m) => m.receiverRss));
      // Throughput is the median run; `rss` the largest peak of either process over all runs,
      // since the target bounds each of them.
      rows.push(
        row('throughput', median(runs.map((m) => bytes / 1e6 / m.seconds)), 'MB/s'),
        row('rss', Math.max(senderRss, receiverRss), 'MB'),
        row('sender rss', senderRss, 'MB'),
        row('receiver rss', receiverRss, 'MB'),
      );
    }
    report(rows, {
      json,
      reference: 'scp',
      title: `${mib} MiB ${placement.label}, BLAKE3 of every received file checked`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
    await placement.close();
  }
}

await main();
