/**
 * File transfer over loopback: mesh-agent (`run` receiver + `send-file` sender in direct mode,
 * 1350-byte and large datagrams) next to scp and nc, in one run, each received file's BLAKE3 checked.
 *
 *   npx tsx bench/file-transfer/index.ts [--json] [--size <MiB>] [--runs <n>] [--only mesh-agent,'mesh-agent large',scp,nc] [--chunk-kib <n>]
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
import { type BenchRow, report } from '../lib/report.js';
import { interleaved, median, runsArg } from '../lib/rounds.js';
import { type Measurement, meshAgent, nc, scp } from './tools.js';

const MIB = 1024 * 1024;
/** The largest datagram the QUIC options accept is 16383; 16000 leaves room like bench/quic-throughput. */
const LARGE_PAYLOAD = 16_000;

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
  const dir = await mkdtemp(join(tmpdir(), 'bench-file-transfer-'));
  const say = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  try {
    const source = join(dir, 'source.bin');
    await randomFile(source, bytes);
    const expected = await blake3(source);
    // The case names the datagram size; scp and nc (TCP) are the references of the `large` case.
    // `--only` takes `mesh-agent` (both cases), `mesh-agent large`, `mesh-agent 1350`, `scp`, `nc`.
    const cases: Array<{ tool: string; case: string; run: (work: string) => Promise<Measurement> }> = [
      { tool: 'mesh-agent', case: '1350', run: (work) => meshAgent(source, work, 1350, plugin) },
      { tool: 'mesh-agent', case: 'large', run: (work) => meshAgent(source, work, LARGE_PAYLOAD, plugin) },
      { tool: 'scp', case: 'large', run: (work) => scp(source, work) },
      { tool: 'nc', case: 'large', run: (work) => nc(source, work) },
    ];
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
      title: `${mib} MiB over loopback, BLAKE3 of every received file checked`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
