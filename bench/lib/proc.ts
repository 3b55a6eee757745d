/** Process helpers for the benchmark: free ports, peak RSS of a process tree, waiting for exit. */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function statusField(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function childrenOf(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process exited while we looked.
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

/**
 * Peak resident memory of a process and its descendants: the sum of VmRSS sampled every 50 ms,
 * and the kernel's own high-water mark (VmHWM) of the root, whichever is larger.
 */
export class PeakRss {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    private readonly tree = false,
  ) {
    this.timer = setInterval(() => this.sample(), 50);
  }

  sample(): void {
    const pids = this.tree ? childrenOf(this.pid) : [this.pid];
    const sum = pids.reduce((total, pid) => total + statusField(pid, 'VmRSS'), 0);
    this.peak = Math.max(this.peak, sum, statusField(this.pid, 'VmHWM'));
  }

  /** Peak in MB (10^6 bytes). */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.peak / 1e6;
  }
}

export interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

export function start(command: string, args: string[], options: SpawnOptions = {}): Run {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const run: Run = { child, stdout: '', stderr: '', exited: Promise.resolve(null) };
  child.stdout?.on('data', (d) => {
    run.stdout += d;
  });
  child.stderr?.on('data', (d) => {
    run.stderr += d;
  });
  run.exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  return run;
}

export async function waitFor(run: Run, test: (stdout: string) => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test(run.stdout)) {
    if (run.child.exitCode !== null) throw new Error(`process exited early: ${run.stderr}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for output: ${run.stdout}\n${run.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
