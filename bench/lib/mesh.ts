/** mesh-agent as the benchmarks run it: isolated homes and a direct-mode receiver/sender pair. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LOOPBACK, type Placement } from './placement.js';
import { PeakRss, start, ThreadCpu, waitFor } from './proc.js';

export const BIN = resolve(import.meta.dirname, '../../bin/run.js');
/** Extra node flags for the agents, e.g. BENCH_CLI_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (NODE_OPTIONS refuses --cpu-prof). */
export const CLI_NODE_ARGS = (process.env.BENCH_CLI_ARGS ?? '').split(' ').filter(Boolean);
/** BENCH_THREAD_CPU=1: print the CPU time of every thread of both agents of each run to stderr. */
const THREAD_CPU = Boolean(process.env.BENCH_THREAD_CPU);

/** Flags of the accepting side in direct mode: any free port on `address`, session `bench`, `token`. */
export function directListenFlags(token: string, address = '127.0.0.1'): string[] {
  return ['--listen', `${address}:0`, '--session-id', 'bench', '--accept-token', token];
}

/** Inherited by the agents, to compare their UDP I/O paths (e.g. MESH_AGENT_UDP_BATCH=off). */
const PASSED_THROUGH = new Set(['MESH_AGENT_HOME', 'MESH_AGENT_UDP_BATCH']);

/** The environment of an isolated agent: its own home and oclif data, no other inherited MESH_AGENT_*. */
export function agentEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MESH_AGENT_HOME: home, HOME: home };
  for (const key of Object.keys(env))
    if (key.startsWith('MESH_AGENT_') && !PASSED_THROUGH.has(key)) delete env[key];
  return { ...env, MESH_AGENT_DATA_DIR: join(home, 'oclif-data') };
}

/** A fresh agent home under `dir` with `config` (warn-level logs unless it says otherwise) and an identity. */
export async function agentHome(dir: string, name: string, config: object): Promise<string> {
  const home = join(dir, name);
  await mkdir(home, { recursive: true });
  await writeFile(
    join(home, 'mesh-agent.config.json'),
    JSON.stringify({ log: { level: 'warn' }, ...config }),
  );
  execFileSync(process.execPath, [BIN, 'identity', '--json'], { env: agentEnv(home), cwd: home });
  return home;
}

export interface DirectRun {
  /** From the sender's start to its exit. */
  seconds: number;
  senderRss: number;
  receiverRss: number;
  /** The sender's stdout (its --json result). */
  stdout: string;
  receiverHome: string;
}

/**
 * A `mesh-agent run` receiver in direct mode and one sender command (`send-file <file>`,
 * `send-folder <dir>` …) dialing it with --json; both with `config`, placed by `placement`.
 */
export async function directPair(
  dir: string,
  tag: string,
  config: object,
  command: string[],
  placement: Placement = LOOPBACK,
): Promise<DirectRun> {
  const receiverHome = await agentHome(dir, `receiver-${tag}`, config);
  const senderHome = await agentHome(dir, `sender-${tag}`, config);
  const token = `bench-${Date.now()}-token-0123456789`;
  const receiver = start(
    ...placement.on('receiver', process.execPath, [
      ...CLI_NODE_ARGS,
      BIN,
      'run',
      ...directListenFlags(token, placement.address('receiver')),
      '--json',
    ]),
    { env: agentEnv(receiverHome), cwd: receiverHome },
  );
  try {
    await waitFor(receiver, (out) => out.includes('"listen"'));
    const ready = JSON.parse(receiver.stdout.split('\n')[0] as string) as {
      fingerprint: string;
      listen: Array<{ port: number }>;
    };
    const receiverRss = new PeakRss(receiver.child.pid as number);
    const receiverCpu = THREAD_CPU ? new ThreadCpu(receiver.child.pid as number) : undefined;
    const started = process.hrtime.bigint();
    const sender = start(
      ...placement.on('sender', process.execPath, [
        ...CLI_NODE_ARGS,
        BIN,
        ...command,
        '--peer-addr',
        `${placement.address('receiver')}:${ready.listen[0]?.port}`,
        '--session-id',
        'bench',
        '--token',
        token,
        '--peer-fingerprint',
        ready.fingerprint,
        '--json',
      ]),
      { env: agentEnv(senderHome), cwd: senderHome },
    );
    const senderRss = new PeakRss(sender.child.pid as number);
    const senderCpu = THREAD_CPU ? new ThreadCpu(sender.child.pid as number) : undefined;
    const code = await sender.exited;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (senderCpu && receiverCpu)
      process.stderr.write(
        `threads of the sender (${command[0]}):\n  ${senderCpu.stop().join('\n  ')}\n` +
          `threads of the receiver, during the send:\n  ${receiverCpu.stop().join('\n  ')}\n`,
      );
    const sRss = senderRss.stop();
    if (code !== 0) throw new Error(`${command[0]} failed (${code}): ${sender.stdout}${sender.stderr}`);
    return { seconds, senderRss: sRss, receiverRss: receiverRss.stop(), stdout: sender.stdout, receiverHome };
  } finally {
    receiver.child.kill('SIGTERM');
    await receiver.exited;
  }
}
