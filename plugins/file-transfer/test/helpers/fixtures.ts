import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createBLAKE3 } from 'hash-wasm';
import {
  agentEnv,
  CliProcess,
  type CliResult,
  eventually,
  runCli,
  TempDirs,
} from '../../../../packages/host/test/helpers/cli.js';
import { type Agent, makeAgent, peersOf, type Server } from '../../../../packages/host/test/helpers/mesh.js';
import { PARTIAL_DIR } from '../../src/part-files.js';

export { agentEnv, CliProcess, eventually, runCli, TempDirs };

/** Config of a test agent: plugin section and QUIC timeouts short enough to notice a dead peer fast. */
export interface AgentSetup {
  fileTransfer?: Record<string, unknown>;
  quic?: Record<string, unknown>;
  /** Run its commands unprivileged (see AgentOptions.unprivileged). */
  unprivileged?: boolean;
}

/** An agent home with a config file (found from the home, the CLI's cwd in tests) and its identity. */
export function makeFileAgent(dirs: TempDirs, setup: AgentSetup = {}): Promise<Agent> {
  const config = {
    log: { level: 'info' },
    quic: { idleTimeoutMs: 4_000, keepAliveMs: 1_000, ...setup.quic },
    plugins: { 'file-transfer': setup.fileTransfer ?? {} },
  };
  return makeAgent(dirs, {
    config,
    prefix: 'mesh-ft-',
    unprivileged: setup.unprivileged === true,
  });
}

export async function randomFile(dir: string, name: string, bytes: number): Promise<string> {
  const path = join(dir, name);
  // Written in 16 MiB pieces: memory stays small for big test files.
  const piece = 16 * 1024 * 1024;
  const handle = await import('node:fs/promises').then((fs) => fs.open(path, 'w'));
  try {
    for (let done = 0; done < bytes; done += piece)
      await handle.write(randomBytes(Math.min(piece, bytes - done)));
  } finally {
    await handle.close();
  }
  return path;
}

/** BLAKE3 of a file by a second implementation path (whole-file read), to check what arrived. */
export async function blake3Of(path: string): Promise<string> {
  const hasher = await createBLAKE3();
  hasher.init();
  hasher.update(await readFile(path));
  return hasher.digest('hex');
}

/** Every file under `dir` (relative paths), the hidden partial folder included. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
    .sort();
}

/** Bytes of the (single) part file in a download directory, 0 when there is none. */
export async function partBytes(downloads: string): Promise<number> {
  const parts = (await listFiles(downloads)).filter((f) => f.startsWith(PARTIAL_DIR) && f.endsWith('.part'));
  if (parts.length === 0) return 0;
  return (await stat(join(downloads, parts[0] as string)).catch(() => ({ size: 0 }))).size;
}

/** The JSON log records a daemon wrote to stderr so far. */
export function logRecords(agent: Agent): Array<Record<string, unknown>> {
  return (agent.proc?.stderr ?? '')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Sends `signal` to a running send command and waits (up to 5 s) for the receiving daemon's
 * CANCELLED record; returns it with the time the receiver took to learn of the cancel.
 */
export async function cancelSender(
  sender: CliProcess,
  receiver: Agent,
  signal: NodeJS.Signals,
): Promise<{ record: Record<string, unknown>; latencyMs: number }> {
  const interrupted = Date.now();
  sender.child.kill(signal);
  const record = await eventually(
    async () => logRecords(receiver).find((r) => r.code === 'CANCELLED'),
    5_000,
    10,
  );
  return { record, latencyMs: Date.now() - interrupted };
}

export function sendFileArgs(files: string[], target: string[]): string[] {
  return ['send-file', ...files, ...target, '--json'];
}

export function parseJson<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** One file of `send-file --json` output: the sender's result. */
export type { SendResult as SentFile } from '../../src/sender.js';

/**
 * Waits until the server lists the daemon: `run` reports ready before its hello reached the
 * server, and a `p2p.request` for an agent the server does not know yet fails.
 */
export async function joined(server: Server, agent: Agent): Promise<void> {
  const viewer = agentEnv(agent.home);
  await eventually(async () => (await peersOf(server.url, viewer)).includes(agent.id), 15_000);
}
