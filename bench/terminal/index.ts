/**
 * Shared-terminal benchmark, all cases in one run, one after the other:
 *
 *   npx tsx bench/terminal/index.ts [--json] [--size <MB>] [--keys <n>] [--quic-driver inline|worker[,viewer's]]
 *                                   [--only mesh-agent,node-pty,ssh]
 *
 * - throughput: `head -c 200000000 /dev/zero | tr '\0' a` as seen by a mesh-agent viewer (QUIC,
 *   direct mode on loopback), next to node-pty locally and `ssh -tt` to a loopback openssh-server;
 * - echo: keystroke round trip through a viewer with control to a remote `cat` in raw mode
 *   (p50/p99), next to `ssh -tt` (and node-pty locally, for the floor).
 * Needs the built CLI (`npx tsc -b plugins/terminal/tsconfig.json`) and /usr/sbin/sshd.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { agentEnv, BIN, CLI_NODE_ARGS, directListenFlags } from '../lib/mesh.js';
import { type BenchRow, hasFlag, report } from '../lib/report.js';
import { percentile } from '../lib/rounds.js';
import { BenchSshd } from '../lib/sshd.js';

// node-pty is a dependency of the terminal plugin, not of the workspace root.
const pty = createRequire(resolve(import.meta.dirname, '../../plugins/terminal/package.json'))(
  'node-pty',
) as typeof import('node-pty');

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const BYTES = arg('--size', 200) * 1_000_000;
const KEYS = arg('--keys', 1000);
/** `--quic-driver inline|worker[,viewer's]`: the data plane's driver thread (config quic.driver), default as configured. */
const DRIVER = (() => {
  const i = process.argv.indexOf('--quic-driver');
  return i >= 0 ? process.argv[i + 1] : undefined;
})();
/** `--only a,b`: run only these tools. */
const ONLY = (() => {
  const i = process.argv.indexOf('--only');
  return i >= 0 ? (process.argv[i + 1] ?? '').split(',') : undefined;
})();
const runs = (tool: string) => !ONLY || ONLY.includes(tool);
const WARMUP = 50;
const FLOOD = `head -c ${BYTES} /dev/zero | tr '\\0' a`;
const ECHO = 'stty raw -echo; cat';
const THROUGHPUT_CASE = `head -c ${BYTES / 1_000_000}MB | tr`;
const ECHO_CASE = 'key echo (raw cat)';
const log = (text: string) => process.stderr.write(`${text}\n`);

interface Flood {
  bytes: number;
  seconds: number;
}

/** Counts bytes from the first to the last one of a stream that ends. */
function countUntilEnd(stream: Readable): Promise<Flood> {
  return new Promise((resolvePromise, reject) => {
    let bytes = 0;
    let first = 0n;
    stream.on('data', (chunk: Buffer) => {
      if (bytes === 0) first = process.hrtime.bigint();
      bytes += chunk.length;
    });
    stream.on('error', reject);
    stream.on('end', () => resolvePromise({ bytes, seconds: Number(process.hrtime.bigint() - first) / 1e9 }));
  });
}

function mbps(flood: Flood): number {
  return flood.bytes / 1e6 / flood.seconds;
}

/** Sends one byte at a time and waits for its echo; round trips in µs. */
async function echoRoundTrips(input: (data: string) => void, output: Readable): Promise<number[]> {
  let pending: (() => void) | undefined;
  output.on('data', () => pending?.());
  const once = () =>
    new Promise<void>((r, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
      pending = () => {
        clearTimeout(timer);
        pending = undefined;
        r();
      };
    });
  const times: number[] = [];
  for (let i = 0; i < WARMUP + KEYS; i++) {
    const echoed = once();
    const start = process.hrtime.bigint();
    input('x');
    await echoed;
    if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return times.sort((a, b) => a - b);
}

/** Waits until `cat` answers at all (the remote end finished `stty raw`). */
async function waitForEcho(input: (data: string) => void, output: Readable): Promise<void> {
  let seen = false;
  const onData = () => {
    seen = true;
  };
  output.on('data', onData);
  for (let i = 0; i < 200 && !seen; i++) {
    input('w');
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, 200));
  output.off('data', onData);
  if (!seen) throw new Error('the remote cat never echoed');
}

function cli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...CLI_NODE_ARGS, BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
}

function firstJsonLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const onData = (d: Buffer) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        child.stdout?.off('data', onData);
        resolvePromise(JSON.parse(text.slice(0, nl)) as Record<string, unknown>);
      }
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`share-terminal exited ${code}: ${stderr}`)));
  });
}

interface Agents {
  owner: NodeJS.ProcessEnv;
  viewer: NodeJS.ProcessEnv;
  viewerId: string;
}

function makeAgents(dir: string): Agents {
  const owner = agentEnv(join(dir, 'owner'));
  const viewer = agentEnv(join(dir, 'viewer'));
  if (DRIVER) {
    // `--quic-driver owner,viewer` sets the two sides apart (config quic.driver).
    const [ownerDriver, viewerDriver = ownerDriver] = DRIVER.split(',');
    for (const [side, driver] of [
      [owner, ownerDriver],
      [viewer, viewerDriver],
    ] as const) {
      const config = join(dir, `config-${driver}.toml`);
      writeFileSync(config, `[quic]\ndriver = "${driver}"\n`);
      side.MESH_AGENT_CONFIG = config;
    }
  }
  execFileSync(process.execPath, [BIN, 'identity', '--json'], { env: owner });
  const { agentId } = JSON.parse(
    execFileSync(process.execPath, [BIN, 'identity', '--json'], { env: viewer }).toString(),
  );
  return { owner, viewer, viewerId: agentId as string };
}

/** A sharer running `command` and one viewer attached in direct mode (stdin/stdout are pipes). */
async function meshSession(agents: Agents, command: string, extra: string[] = []) {
  const token = 'bench-token-0123456789abcdef';
  const owner = cli(
    [
      'share-terminal',
      '--json',
      ...directListenFlags(token),
      '--wait-viewers',
      '1',
      '--cols',
      '80',
      '--rows',
      '24',
      '--command',
      command,
      ...extra,
    ],
    agents.owner,
  );
  const ready = await firstJsonLine(owner);
  const port = (ready.listen as Array<{ port: number }>)[0]?.port;
  const viewer = cli(
    [
      'attach-terminal',
      '--peer-addr',
      `127.0.0.1:${port}`,
      '--session-id',
      'bench',
      '--token',
      token,
      '--peer-fingerprint',
      String(ready.fingerprint),
    ],
    agents.viewer,
  );
  let viewerErr = '';
  viewer.stderr?.on('data', (d) => {
    viewerErr += d;
  });
  const stop = async () => {
    for (const child of [viewer, owner]) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      [viewer, owner].map((c) => (c.exitCode === null ? new Promise((r) => c.on('exit', r)) : null)),
    );
  };
  return { owner, viewer, stop, stderr: () => viewerErr };
}

async function throughputMesh(agents: Agents): Promise<Flood> {
  const session = await meshSession(agents, FLOOD);
  let flood: Flood;
  try {
    flood = await countUntilEnd(session.viewer.stdout as Readable);
  } finally {
    await session.stop();
  }
  const resyncs = session.stderr().match(/fell behind/g)?.length ?? 0;
  if (flood.bytes < BYTES) log(`mesh-agent viewer got ${flood.bytes} of ${BYTES} bytes (${resyncs} resyncs)`);
  return flood;
}

function throughputNodePty(): Promise<Flood> {
  const term = pty.spawn('/bin/sh', ['-c', FLOOD], { cols: 80, rows: 24, encoding: null });
  return new Promise((resolvePromise) => {
    let bytes = 0;
    let first = 0n;
    term.onData((d) => {
      if (bytes === 0) first = process.hrtime.bigint();
      bytes += d.length;
    });
    term.onExit(() => resolvePromise({ bytes, seconds: Number(process.hrtime.bigint() - first) / 1e9 }));
  });
}

async function throughputSsh(sshd: BenchSshd): Promise<Flood> {
  const ssh = spawn('ssh', ['-tt', ...sshd.clientArgs(), FLOOD], { stdio: ['pipe', 'pipe', 'ignore'] });
  const flood = await countUntilEnd(ssh.stdout);
  ssh.stdin.end();
  return flood;
}

async function echoMesh(agents: Agents): Promise<number[]> {
  const session = await meshSession(agents, ECHO, ['--allow-control', agents.viewerId]);
  const stdin = session.viewer.stdin as Writable;
  const stdout = session.viewer.stdout as Readable;
  const input = (data: string) => stdin.write(data);
  try {
    await waitForEcho(input, stdout);
    return await echoRoundTrips(input, stdout);
  } finally {
    await session.stop();
  }
}

async function echoSsh(sshd: BenchSshd): Promise<number[]> {
  const ssh = spawn('ssh', ['-tt', ...sshd.clientArgs(), ECHO], { stdio: ['pipe', 'pipe', 'ignore'] });
  const input = (data: string) => ssh.stdin.write(data);
  try {
    await waitForEcho(input, ssh.stdout);
    return await echoRoundTrips(input, ssh.stdout);
  } finally {
    ssh.kill('SIGTERM');
  }
}

async function echoNodePty(): Promise<number[]> {
  const term = pty.spawn('/bin/sh', ['-c', ECHO], { cols: 80, rows: 24, encoding: null });
  const { PassThrough } = await import('node:stream');
  const output = new PassThrough();
  term.onData((d) => output.write(d));
  const input = (data: string) => term.write(data);
  try {
    await waitForEcho(input, output);
    return await echoRoundTrips(input, output);
  } finally {
    term.kill();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-terminal-'));
  const sshd = new BenchSshd(dir);
  const rows: BenchRow[] = [];
  const push = (tool: string, kase: string, metric: string, value: number, unit: string) =>
    rows.push({ case: kase, tool, metric, value: Math.round(value * 100) / 100, unit });
  try {
    const agents = makeAgents(dir);
    await sshd.start();
    log(`throughput: ${BYTES / 1e6} MB each …`);
    if (runs('mesh-agent'))
      push('mesh-agent', THROUGHPUT_CASE, 'throughput', mbps(await throughputMesh(agents)), 'MB/s');
    if (runs('node-pty'))
      push('node-pty', THROUGHPUT_CASE, 'throughput', mbps(await throughputNodePty()), 'MB/s');
    if (runs('ssh')) push('ssh', THROUGHPUT_CASE, 'throughput', mbps(await throughputSsh(sshd)), 'MB/s');
    log(`echo: ${KEYS} keys each …`);
    for (const [tool, measure] of [
      ['mesh-agent', () => echoMesh(agents)],
      ['node-pty', () => echoNodePty()],
      ['ssh', () => echoSsh(sshd)],
    ] as const) {
      if (!runs(tool)) continue;
      const times = await measure();
      push(tool, ECHO_CASE, 'p50', percentile(times, 50), 'µs');
      push(tool, ECHO_CASE, 'p99', percentile(times, 99), 'µs');
    }
  } finally {
    sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  report(rows, {
    json: hasFlag('--json'),
    reference: 'ssh',
    title: 'Shared terminal: mesh-agent viewer (QUIC, loopback) vs node-pty locally vs ssh -tt (loopback)',
  });
}

await main();
