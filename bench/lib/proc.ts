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

/** Clock ticks per second of /proc's CPU times on Linux. */
const USER_HZ = 100;

/** Resident memory of one process now, in MB (10^6 bytes). */
export function rssMb(pid: number): number {
  return statusField(pid, 'VmRSS') / 1e6;
}

/** User plus system CPU seconds a process has used so far, all its threads together. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
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

/**
 * CPU time of each thread of a process from now until `stop`, from /proc/<pid>/task/<tid>/stat
 * sampled every 50 ms (the last sample counts: a thread's figures vanish with it). Node names every thread
 * "node"; the main thread is the one whose id is the pid, the libuv pool shows system time only
 * (file I/O), and worker threads (the QUIC driver) start after it.
 */
export class ThreadCpu {
  private readonly last = new Map<number, { user: number; sys: number }>();
  /** What each thread had used when this started. */
  private readonly base: Map<number, { user: number; sys: number }>;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.base = new Map(this.last);
    this.timer = setInterval(() => this.sample(), 50);
  }

  sample(): void {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${this.pid}/task`);
    } catch {
      return; // The process has exited.
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        this.last.set(Number(tid), {
          user: Number(fields[11]) / USER_HZ,
          sys: Number(fields[12]) / USER_HZ,
        });
      } catch {
        // The thread ended while we looked.
      }
    }
  }

  /** One line per thread that used 20 ms or more: `main` or its id, user and system seconds. */
  stop(): string[] {
    this.sample();
    clearInterval(this.timer);
    return [...this.last]
      .map(([tid, cpu]) => {
        const before = this.base.get(tid) ?? { user: 0, sys: 0 };
        return [tid, { user: cpu.user - before.user, sys: cpu.sys - before.sys }] as const;
      })
      .filter(([, cpu]) => cpu.user + cpu.sys >= 0.02)
      .map(
        ([tid, cpu]) =>
          `${tid === this.pid ? 'main' : tid} user ${cpu.user.toFixed(2)} s, sys ${cpu.sys.toFixed(2)} s`,
      );
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
