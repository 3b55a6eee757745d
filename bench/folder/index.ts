/**
 * Folder transfer over loopback (or, with `--lan`, between two network namespaces on a 1500-MTU
 * link; root, see lib/placement.ts), in one run: mesh-agent (`run` receiver + `send-folder` sender,
 * direct mode) next to `scp -r` (a throwaway sshd) and `tar c | nc`, on two trees:
 * `small` (10,000 files of 1–4 KiB in 100 directories) and `large` (a few files of 100 MiB).
 * Every received tree is compared with the source (paths and SHA-256 of every file).
 *
 *   npx tsx bench/folder/index.ts [--json] [--lan] [--large-mib <MiB per file>] [--large-files <n>] [--compress]
 *                                 [--cases small,large] [--only mesh-agent,scp,tar-nc] [--runs <n>]
 *
 * Build first: npx tsc -b plugins/folder-zip/tsconfig.json. Needs openssh-server, openssh-client and
 * netcat-openbsd. Throughput = file bytes of the tree / wall time of the sending command (process
 * start, connection and verification included), in MB/s (10^6): the median of `--runs` (3)
 * interleaved runs of each tool.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeTimedRun } from '../lib/before-run.js';
import { directPair } from '../lib/mesh.js';
import { type Placement, placementFromArgs } from '../lib/placement.js';
import { freePort, start } from '../lib/proc.js';
import { type BenchRow, hasFlag, report } from '../lib/report.js';
import { interleaved, median, runsArg } from '../lib/rounds.js';
import { BenchSshd } from '../lib/sshd.js';

const MIB = 1024 * 1024;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const LARGE_MIB = arg('--large-mib', 100);
const LARGE_FILES = arg('--large-files', 3);
const COMPRESS = hasFlag('--compress');
/** `--cases small,large` and `--only mesh-agent,scp,tar-nc`: run a subset. */
const listArg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? '').split(',') : undefined;
};
const CASES = listArg('--cases');
const ONLY = listArg('--only');
const json = hasFlag('--json');
const RUNS = runsArg();
const say = (line: string) => {
  if (!json) process.stderr.write(`${line}\n`);
};

interface Tree {
  path: string;
  bytes: number;
}

async function smallTree(dir: string): Promise<Tree> {
  const path = join(dir, 'small');
  let bytes = 0;
  for (let d = 0; d < 100; d++) {
    await mkdir(join(path, `dir-${d}`), { recursive: true });
    await Promise.all(
      Array.from({ length: 100 }, (_, f) => {
        const data = randomBytes(1024 + ((d * 100 + f) % 3072));
        bytes += data.length;
        return writeFile(join(path, `dir-${d}`, `file-${f}.bin`), data);
      }),
    );
  }
  return { path, bytes };
}

async function largeTree(dir: string): Promise<Tree> {
  const path = join(dir, 'large');
  await mkdir(path);
  for (let i = 0; i < LARGE_FILES; i++) {
    const handle = await import('node:fs/promises').then((fs) => fs.open(join(path, `big-${i}.bin`), 'w'));
    for (let done = 0; done < LARGE_MIB * MIB; done += 16 * MIB) await handle.write(randomBytes(16 * MIB));
    await handle.close();
  }
  return { path, bytes: LARGE_FILES * LARGE_MIB * MIB };
}

/** SHA-256 over every relative path and file content, in sorted order. */
async function digest(path: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
  for (const file of files) {
    hash.update(file.slice(path.length));
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

/** Seconds of the sending side; returns where the tree arrived. */
type Run = (placement: Placement, tree: Tree, dir: string) => Promise<{ seconds: number; output: string }>;

const meshAgent: Run = async (placement, tree, dir) => {
  // Large datagrams on loopback; on a LAN, the agent's defaults, as a user gets them.
  const config = placement.lan ? {} : { quic: { maxUdpPayload: 16_000, loopbackUdpPayload: 16_000 } };
  const command = ['send-folder', tree.path, ...(COMPRESS ? ['--compress'] : [])];
  const run = await directPair(dir, 'folder', config, command, placement);
  const savedAs = (JSON.parse(run.stdout) as { savedAs: string }).savedAs;
  return { seconds: run.seconds, output: join(run.receiverHome, 'downloads', savedAs) };
};

const scp: Run = async (placement, tree, dir) => {
  const sshDir = join(dir, 'ssh');
  await mkdir(sshDir, { mode: 0o700 });
  const sshd = new BenchSshd(sshDir, placement);
  await sshd.start();
  try {
    const output = join(dir, 'scp-received');
    const started = process.hrtime.bigint();
    const client = start(
      ...placement.on('sender', 'scp', [
        '-r',
        '-q',
        '-c',
        'aes128-gcm@openssh.com',
        ...sshd.scpArgs(),
        tree.path,
        `${sshd.login}:${output}`,
      ]),
    );
    const code = await client.exited;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`scp failed (${code}): ${client.stderr}`);
    return { seconds, output };
  } finally {
    sshd.stop();
  }
};

const tarNc: Run = async (placement, tree, dir) => {
  const port = await freePort();
  const output = join(dir, 'tar-received');
  await mkdir(output);
  const to = placement.address('receiver');
  const receiver = start(
    ...placement.on('receiver', 'sh', ['-c', `nc -l ${to} ${port} | tar x -C '${output}'`]),
  );
  await new Promise((r) => setTimeout(r, 300));
  const started = process.hrtime.bigint();
  const parent = resolve(tree.path, '..');
  const name = tree.path.slice(parent.length + 1);
  const sender = start(
    ...placement.on('sender', 'sh', ['-c', `tar c -C '${parent}' '${name}' | nc -N ${to} ${port}`]),
  );
  const [sent, received] = await Promise.all([sender.exited, receiver.exited]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sent !== 0 || received !== 0) throw new Error(`tar | nc failed: ${sender.stderr}${receiver.stderr}`);
  return { seconds, output: join(output, name) };
};

async function main(): Promise<void> {
  const placement = await placementFromArgs(process.argv);
  if (!placement) return;
  const dir = await mkdtemp(join(tmpdir(), 'bench-folder-'));
  const rows: BenchRow[] = [];
  try {
    const trees: Array<[string, Tree]> = [];
    if (!CASES || CASES.includes('small')) trees.push(['small', await smallTree(dir)]);
    if (!CASES || CASES.includes('large')) trees.push(['large', await largeTree(dir)]);
    const tools = (
      [
        ['mesh-agent', meshAgent],
        ['scp', scp],
        ['tar-nc', tarNc],
      ] as Array<[string, Run]>
    ).filter(([tool]) => !ONLY || ONLY.includes(tool));
    for (const [name, tree] of trees) {
      const expected = await digest(tree.path);
      const results = await interleaved(tools, RUNS, async ([tool, run]) => {
        say(`${tool} (${name}): ${(tree.bytes / 1e6).toFixed(1)} MB …`);
        const work = await mkdtemp(join(dir, `${tool}-`));
        await beforeTimedRun(dir, tree.bytes);
        const m = await run(placement, tree, work);
        const got = await digest(m.output);
        if (got !== expected) throw new Error(`${tool} ${name}: the received tree differs from the source`);
        await rm(work, { recursive: true, force: true });
        return tree.bytes / 1e6 / m.seconds;
      });
      for (const [[tool], speeds] of results)
        rows.push({ case: name, tool, metric: 'throughput', value: round(median(speeds)), unit: 'MB/s' });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    await placement.close();
  }
  report(rows, {
    json,
    reference: 'scp',
    title: `Folders ${placement.label}: small = 10,000 files of 1–4 KiB, large = ${LARGE_FILES} × ${LARGE_MIB} MiB${COMPRESS ? ' (mesh-agent --compress)' : ''}`,
  });
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

await main();
