/**
 * File transfer over loopback: mesh-agent (`run` receiver + `send-file` sender in direct mode,
 * 1350-byte and large datagrams) next to scp and nc, in one run, each received file's BLAKE3 checked.
 *
 *   npx tsx bench/file-transfer/index.ts [--json] [--size <MiB>] [--only mesh-agent,scp,nc] [--hash-thread worker|inline]
 *   (default 1024 MiB, every tool)
 *
 * Build first: npx tsc -b plugins/file-transfer/tsconfig.json. Needs openssh-server,
 * openssh-client and netcat-openbsd (apt-get install -y openssh-server openssh-client netcat-openbsd).
 * Throughput is end to end: the file size over the sender's wall time (process start, connection,
 * verification included). RSS is the peak of sender and receiver.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Measurement, meshAgent, nc, scp } from './tools.js';

const MIB = 1024 * 1024;
/** The largest datagram the QUIC options accept is 16383; 16000 leaves room like bench/quic-throughput. */
const LARGE_PAYLOAD = 16_000;

interface Row {
  case: string;
  tool: 'mesh-agent' | 'scp' | 'nc';
  metric: 'throughput' | 'rss';
  value: number;
  unit: 'MB/s' | 'MB';
}

const require = createRequire(new URL('../../plugins/file-transfer/package.json', import.meta.url));
const { createBLAKE3 } = require('hash-wasm') as {
  createBLAKE3(): Promise<{
    init(): unknown;
    update(data: Uint8Array): unknown;
    digest(encoding: 'hex'): string;
  }>;
};

async function blake3(path: string): Promise<string> {
  const hasher = await createBLAKE3();
  hasher.init();
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB }))
    hasher.update(chunk as Buffer);
  return hasher.digest('hex');
}

async function randomFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += 16 * MIB)
      await handle.write(randomBytes(Math.min(16 * MIB, bytes - done)));
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const sizeAt = argv.indexOf('--size');
  const mib = sizeAt >= 0 ? Number(argv[sizeAt + 1]) : 1024;
  if (!(mib > 0)) throw new Error('--size must be a positive number of MiB');
  const bytes = Math.round(mib * MIB);
  // For comparing where BLAKE3 runs (plugins.file-transfer.hashThread); default: the plugin's default.
  const threadAt = argv.indexOf('--hash-thread');
  const plugin = threadAt >= 0 ? { hashThread: argv[threadAt + 1] } : {};
  const dir = await mkdtemp(join(tmpdir(), 'bench-file-transfer-'));
  const say = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  try {
    const source = join(dir, 'source.bin');
    await randomFile(source, bytes);
    const expected = await blake3(source);
    const cases: Array<{ case: string; tool: Row['tool']; run: () => Promise<Measurement> }> = [
      { case: '1350', tool: 'mesh-agent', run: () => meshAgent(source, dir, 1350, plugin) },
      { case: 'large', tool: 'mesh-agent', run: () => meshAgent(source, dir, LARGE_PAYLOAD, plugin) },
      { case: '-', tool: 'scp', run: () => scp(source, dir) },
      { case: 'stream', tool: 'nc', run: () => nc(source, dir) },
    ];
    const onlyAt = argv.indexOf('--only');
    const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',') : undefined;
    const rows: Row[] = [];
    const table: Array<{ c: string; tool: string; mbps: number; sender: number; receiver: number }> = [];
    for (const c of cases) {
      if (only && !only.includes(c.tool)) continue;
      say(`${c.tool} (${c.case}): ${mib} MiB …`);
      const m = await c.run();
      const got = await blake3(m.output);
      if (got !== expected)
        throw new Error(`${c.tool} ${c.case}: received file hashes to ${got}, expected ${expected}`);
      await rm(m.output, { force: true });
      const mbps = bytes / 1e6 / m.seconds;
      rows.push({ case: c.case, tool: c.tool, metric: 'throughput', value: round(mbps), unit: 'MB/s' });
      rows.push({
        case: c.case,
        tool: c.tool,
        metric: 'rss',
        value: round(Math.max(m.senderRss, m.receiverRss)),
        unit: 'MB',
      });
      table.push({ c: c.case, tool: c.tool, mbps, sender: m.senderRss, receiver: m.receiverRss });
    }
    if (json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    const scpRate = table.find((t) => t.tool === 'scp')?.mbps ?? Number.NaN;
    console.log(`\n${mib} MiB over loopback, BLAKE3 of every received file checked\n`);
    console.log('tool        case    MB/s   × scp   sender RSS MB  receiver RSS MB');
    for (const t of table) {
      console.log(
        `${t.tool.padEnd(11)} ${t.c.padEnd(6)} ${t.mbps.toFixed(1).padStart(6)}  ${(t.mbps / scpRate).toFixed(2).padStart(5)}  ${t.sender.toFixed(0).padStart(13)}  ${t.receiver.toFixed(0).padStart(15)}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

await main();
